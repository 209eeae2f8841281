//! The backup's plaintext: every row of every table (SPEC.md §19.2).
//!
//! ```text
//! body  = key[32] || schema_version u32 || table* || 0x00
//! table = 0x01 || text_u16(name) || u16(columns) || text_u16(column)* || row*
//! row   = 0x02 || value*            (one per column)
//! value = 0x00 NULL | 0x01 i64 | 0x02 f64 (IEEE 754 bits) | 0x03 bytes_u32(UTF-8) | 0x04 bytes_u32
//! ```
//!
//! A rowid table (the default) starts with the pseudo-column `rowid`, so row ids survive.
//! Lengths are checked against the limits before anything is allocated.

use std::io::{Read, Write};

use rusqlite::Connection;
use rusqlite::types::{Value, ValueRef};

use super::BackupError;
use super::stream::{ChunkReader, ChunkWriter};

/// Longest table or column name.
const MAX_NAME_LEN: usize = 255;
/// Most columns of a table (the store's widest has a dozen).
const MAX_COLUMNS: usize = 256;
/// Longest text or blob value: above any envelope or pickle the store keeps (1 MiB frames).
pub const MAX_VALUE_LEN: usize = 16 << 20;

/// A table to copy: its name and columns as the backup lists them.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct TableShape {
    pub(super) name: String,
    pub(super) columns: Vec<String>,
}

/// Ends the tables.
const END: u8 = 0x00;
/// Starts a table: its name and columns.
const TABLE: u8 = 0x01;
/// Starts a row of the current table.
const ROW: u8 = 0x02;

fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The ordinary tables of `schema` (not SQLite's own, not virtual tables, whose contents live
/// in their shadow tables, which are listed), each with `rowid` first unless WITHOUT ROWID.
pub(super) fn tables(conn: &Connection, schema: &str) -> Result<Vec<TableShape>, BackupError> {
    let listed: Vec<(String, String)> = conn
        .prepare(&format!(
            "SELECT name, sql FROM {schema}.sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        ))?
        .query_map([], |row| {
            Ok((row.get(0)?, row.get::<_, Option<String>>(1)?.unwrap_or_default()))
        })?
        .collect::<Result<_, _>>()?;
    let mut out = Vec::new();
    for (name, sql) in listed {
        let sql = sql.to_ascii_uppercase();
        if sql.starts_with("CREATE VIRTUAL TABLE") {
            continue;
        }
        let mut columns: Vec<String> = Vec::new();
        if !sql.contains("WITHOUT ROWID") {
            columns.push("rowid".to_owned());
        }
        let info: Vec<String> = conn
            .prepare(&format!("PRAGMA {schema}.table_info({})", quoted(&name)))?
            .query_map([], |row| row.get(1))?
            .collect::<Result<_, _>>()?;
        columns.extend(info);
        out.push(TableShape { name, columns });
    }
    Ok(out)
}

fn put_text<W: Write>(out: &mut ChunkWriter<W>, text: &str) -> Result<(), BackupError> {
    let len = u16::try_from(text.len()).map_err(|_| BackupError::TooLarge)?;
    out.write(&len.to_be_bytes())?;
    out.write(text.as_bytes())
}

fn put_value<W: Write>(out: &mut ChunkWriter<W>, value: ValueRef<'_>) -> Result<(), BackupError> {
    match value {
        ValueRef::Null => out.write(&[0]),
        ValueRef::Integer(n) => {
            out.write(&[1])?;
            out.write(&n.to_be_bytes())
        }
        ValueRef::Real(x) => {
            out.write(&[2])?;
            out.write(&x.to_bits().to_be_bytes())
        }
        ValueRef::Text(bytes) | ValueRef::Blob(bytes) => {
            let tag = if matches!(value, ValueRef::Text(_)) { 3 } else { 4 };
            let len = u32::try_from(bytes.len())
                .ok()
                .filter(|_| bytes.len() <= MAX_VALUE_LEN)
                .ok_or(BackupError::TooLarge)?;
            out.write(&[tag])?;
            out.write(&len.to_be_bytes())?;
            out.write(bytes)
        }
    }
}

/// Writes every row of `schema`'s tables, then the end mark.
pub(super) fn write_tables<W: Write>(
    conn: &Connection,
    schema: &str,
    out: &mut ChunkWriter<W>,
) -> Result<(), BackupError> {
    for table in tables(conn, schema)? {
        out.write(&[TABLE])?;
        put_text(out, &table.name)?;
        let count = u16::try_from(table.columns.len()).map_err(|_| BackupError::TooLarge)?;
        out.write(&count.to_be_bytes())?;
        for column in &table.columns {
            put_text(out, column)?;
        }
        let list: Vec<String> = table.columns.iter().map(|c| quoted(c)).collect();
        let mut statement = conn.prepare(&format!(
            "SELECT {} FROM {schema}.{}",
            list.join(", "),
            quoted(&table.name)
        ))?;
        let mut rows = statement.query([])?;
        while let Some(row) = rows.next()? {
            out.write(&[ROW])?;
            for i in 0..table.columns.len() {
                put_value(out, row.get_ref(i)?)?;
            }
        }
    }
    out.write(&[END])
}

pub(super) fn take<const N: usize, R: Read>(input: &mut ChunkReader<R>) -> Result<[u8; N], BackupError> {
    let mut bytes = [0u8; N];
    input.read_exact(&mut bytes)?;
    Ok(bytes)
}

fn take_vec<R: Read>(input: &mut ChunkReader<R>, len: usize, limit: usize) -> Result<Vec<u8>, BackupError> {
    if len > limit {
        return Err(BackupError::Malformed("a value longer than the limit"));
    }
    let mut bytes = vec![0u8; len];
    input.read_exact(&mut bytes)?;
    Ok(bytes)
}

fn take_text<R: Read>(input: &mut ChunkReader<R>) -> Result<String, BackupError> {
    let len = usize::from(u16::from_be_bytes(take(input)?));
    String::from_utf8(take_vec(input, len, MAX_NAME_LEN)?)
        .map_err(|_| BackupError::Malformed("a name that is not UTF-8"))
}

fn take_value<R: Read>(input: &mut ChunkReader<R>) -> Result<Value, BackupError> {
    let [tag] = take(input)?;
    Ok(match tag {
        0 => Value::Null,
        1 => Value::Integer(i64::from_be_bytes(take(input)?)),
        2 => Value::Real(f64::from_bits(u64::from_be_bytes(take(input)?))),
        3 | 4 => {
            let len = usize::try_from(u32::from_be_bytes(take(input)?)).unwrap_or(usize::MAX);
            let bytes = take_vec(input, len, MAX_VALUE_LEN)?;
            if tag == 3 {
                Value::Text(
                    String::from_utf8(bytes).map_err(|_| BackupError::Malformed("text that is not UTF-8"))?,
                )
            } else {
                Value::Blob(bytes)
            }
        }
        _ => return Err(BackupError::Malformed("an unknown value type")),
    })
}

/// Reads tables until the end mark and inserts their rows into `main`, whose tables must have
/// exactly the columns the backup lists (same schema version); each table is emptied first.
pub(super) fn read_tables<R: Read>(conn: &Connection, input: &mut ChunkReader<R>) -> Result<(), BackupError> {
    let shapes = tables(conn, "main")?;
    let mut seen: Vec<String> = Vec::new();
    let [mut tag] = take(input)?;
    while tag == TABLE {
        let name = take_text(input)?;
        let count = usize::from(u16::from_be_bytes(take(input)?));
        if count > MAX_COLUMNS {
            return Err(BackupError::Malformed("too many columns"));
        }
        let columns = (0..count)
            .map(|_| take_text(input))
            .collect::<Result<Vec<_>, _>>()?;
        let shape = TableShape { name, columns };
        if !shapes.contains(&shape) || seen.contains(&shape.name) {
            return Err(BackupError::SchemaMismatch { table: shape.name });
        }
        conn.execute(&format!("DELETE FROM main.{}", quoted(&shape.name)), [])?;
        let list: Vec<String> = shape.columns.iter().map(|c| quoted(c)).collect();
        let marks: Vec<String> = (1..=count).map(|n| format!("?{n}")).collect();
        let mut insert = conn.prepare(&format!(
            "INSERT INTO main.{} ({}) VALUES ({})",
            quoted(&shape.name),
            list.join(", "),
            marks.join(", ")
        ))?;
        loop {
            let [next] = take(input)?;
            if next != ROW {
                tag = next;
                break;
            }
            let values = (0..count)
                .map(|_| take_value(input))
                .collect::<Result<Vec<_>, _>>()?;
            insert.execute(rusqlite::params_from_iter(values))?;
        }
        seen.push(shape.name);
    }
    if tag != END {
        return Err(BackupError::Malformed("an unknown record"));
    }
    if !input.at_end()? {
        return Err(BackupError::Malformed("bytes after the end mark"));
    }
    Ok(())
}
