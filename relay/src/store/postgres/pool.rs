//! A small connection pool: at most `size` connections, handed out one per operation through a
//! semaphore, each with its own prepared statements. A connection that failed is dropped, and a
//! fresh one is opened in its place the next time one is needed.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio::sync::{Semaphore, SemaphorePermit};
use tokio_postgres::error::Severity;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, NoTls, Row, Statement, Transaction};
use tracing::debug;

use crate::store::{BackendError, StoreError};

/// Statement parameters, as tokio-postgres takes them.
pub(super) type Params<'a> = [&'a (dyn ToSql + Sync)];

/// Connections to one database.
pub(super) struct Pool {
    config: tokio_postgres::Config,
    size: usize,
    /// One permit per connection that may be in use.
    permits: Semaphore,
    /// Open connections not in use. Fewer than `size` until each has been needed once, and after
    /// a connection broke.
    idle: Mutex<Vec<Conn>>,
}

impl core::fmt::Debug for Pool {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Not the config: it may hold a password.
        write!(f, "Pool({} connections)", self.size)
    }
}

impl Pool {
    /// A pool that opens connections as they are first needed.
    pub(super) fn new(config: tokio_postgres::Config, size: usize) -> Self {
        Self {
            config,
            size,
            permits: Semaphore::new(size),
            idle: Mutex::new(Vec::with_capacity(size)),
        }
    }

    fn idle(&self) -> MutexGuard<'_, Vec<Conn>> {
        // Pushes and pops only: a panic while holding the lock cannot leave the list half-changed.
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A connection for one operation, waiting while all `size` are in use.
    pub(super) async fn get(&self) -> Result<PooledConn<'_>, StoreError> {
        let permit = self.permits.acquire().await.map_err(|_| BackendError::Closed)?;
        let reused = loop {
            let Some(conn) = self.idle().pop() else { break None };
            // One whose connection task ended (the server restarted, the socket broke) is dropped.
            if !conn.client.is_closed() {
                break Some(conn);
            }
        };
        let conn = match reused {
            Some(conn) => conn,
            None => Conn::open(&self.config).await?,
        };
        Ok(PooledConn {
            pool: self,
            conn: Some(conn),
            _permit: permit,
        })
    }
}

/// One open connection and the statements prepared on it.
struct Conn {
    client: Client,
    statements: HashMap<&'static str, Statement>,
    /// An error other than a database's refusal happened on it (I/O, protocol): not reused.
    broken: bool,
}

impl Conn {
    async fn open(config: &tokio_postgres::Config) -> Result<Self, StoreError> {
        let (client, connection) = config.connect(NoTls).await.map_err(StoreError::from)?;
        // Runs until the client is dropped or the connection fails.
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                debug!(error = %StoreError::from(error), "a database connection ended");
            }
        });
        Ok(Self {
            client,
            statements: HashMap::new(),
            broken: false,
        })
    }
}

/// A connection lent to one operation; back to the pool when dropped, unless it broke.
pub(super) struct PooledConn<'a> {
    pool: &'a Pool,
    /// `Some` until dropped.
    conn: Option<Conn>,
    // Released after `drop` has put the connection back, so a waiter finds it idle.
    _permit: SemaphorePermit<'a>,
}

impl Drop for PooledConn<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take()
            && !conn.broken
            && !conn.client.is_closed()
        {
            self.pool.idle().push(conn);
        }
    }
}

/// Prepares `sql` once per connection: later runs skip the round trip that parses it.
async fn prepared(
    client: &impl tokio_postgres::GenericClient,
    statements: &mut HashMap<&'static str, Statement>,
    sql: &'static str,
) -> Result<Statement, tokio_postgres::Error> {
    if let Some(statement) = statements.get(sql) {
        return Ok(statement.clone());
    }
    let statement = client.prepare(sql).await?;
    statements.insert(sql, statement.clone());
    Ok(statement)
}

/// Marks the connection broken after an error that ends or may have ended its session (I/O,
/// protocol, a FATAL error such as an administrator terminating it, a connection exception), so
/// it is not reused. After a database's refusal (a constraint, a lock timeout) it stays usable.
fn note(broken: &mut bool, error: tokio_postgres::Error) -> StoreError {
    let ends_session = match error.as_db_error() {
        None => true,
        Some(db) => {
            matches!(db.parsed_severity(), Some(Severity::Fatal | Severity::Panic))
                || db.code().code().starts_with("08")
        }
    };
    if ends_session {
        *broken = true;
    }
    StoreError::from(error)
}

impl PooledConn<'_> {
    fn conn(&mut self) -> Result<&mut Conn, StoreError> {
        self.conn
            .as_mut()
            .ok_or(BackendError::Invariant("a pooled connection was used after its return").into())
    }

    /// Runs one statement on its own (its own implicit transaction).
    pub(super) async fn query(
        &mut self,
        sql: &'static str,
        params: &Params<'_>,
    ) -> Result<Vec<Row>, StoreError> {
        let Conn {
            client,
            statements,
            broken,
        } = self.conn()?;
        let statement = prepared(&*client, statements, sql)
            .await
            .map_err(|error| note(broken, error))?;
        client
            .query(&statement, params)
            .await
            .map_err(|error| note(broken, error))
    }

    /// Starts a transaction (read committed). Dropped without [`Tx::commit`], it rolls back.
    pub(super) async fn transaction(&mut self) -> Result<Tx<'_>, StoreError> {
        let Conn {
            client,
            statements,
            broken,
        } = self.conn()?;
        let tx = client.transaction().await.map_err(|error| note(broken, error))?;
        Ok(Tx {
            tx,
            statements,
            broken,
        })
    }
}

/// A transaction on a pooled connection.
pub(super) struct Tx<'a> {
    tx: Transaction<'a>,
    statements: &'a mut HashMap<&'static str, Statement>,
    broken: &'a mut bool,
}

impl Tx<'_> {
    /// Runs one statement in the transaction.
    pub(super) async fn query(
        &mut self,
        sql: &'static str,
        params: &Params<'_>,
    ) -> Result<Vec<Row>, StoreError> {
        let statement = prepared(&self.tx, self.statements, sql)
            .await
            .map_err(|error| note(self.broken, error))?;
        self.tx
            .query(&statement, params)
            .await
            .map_err(|error| note(self.broken, error))
    }

    /// Runs SQL text of one or more statements without parameters (the schema's DDL).
    pub(super) async fn batch_execute(&mut self, sql: &str) -> Result<(), StoreError> {
        self.tx
            .batch_execute(sql)
            .await
            .map_err(|error| note(self.broken, error))
    }

    /// Commits; durable when it returns.
    pub(super) async fn commit(self) -> Result<(), StoreError> {
        let Self { tx, broken, .. } = self;
        tx.commit().await.map_err(|error| note(broken, error))
    }
}
