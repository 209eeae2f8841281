//! Schema versions, the same way for every SQL store: a list of migrations where entry `i` takes
//! the schema from version `i` to `i + 1`, and the version a database records picks which of
//! them still run. A database from a newer build is refused rather than misread.

use super::error::{BackendError, Corruption};

/// A store's migrations, oldest first.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Migrations(pub(crate) &'static [&'static str]);

impl Migrations {
    /// The schema version this build writes.
    pub(crate) const fn latest(&self) -> usize {
        self.0.len()
    }

    /// The migrations a database at version `found` still needs, each with the version it
    /// reaches; an error if `found` is negative or newer than [`Migrations::latest`].
    pub(crate) fn after(
        &self,
        found: i64,
    ) -> Result<impl Iterator<Item = (i32, &'static str)>, BackendError> {
        let from = usize::try_from(found).map_err(|_| Corruption::NegativeSchemaVersion(found))?;
        if from > self.latest() {
            return Err(BackendError::SchemaTooNew {
                found,
                supported: self.latest(),
            });
        }
        let steps = self.0.iter().zip(1..).skip(from).map(|(sql, to)| (to, *sql));
        Ok(steps)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const THREE: Migrations = Migrations(&["one", "two", "three"]);

    #[test]
    fn only_the_missing_steps_run_each_with_the_version_it_reaches() {
        assert_eq!(THREE.latest(), 3);
        assert_eq!(
            THREE.after(0).unwrap().collect::<Vec<_>>(),
            vec![(1, "one"), (2, "two"), (3, "three")]
        );
        assert_eq!(THREE.after(2).unwrap().collect::<Vec<_>>(), vec![(3, "three")]);
        assert_eq!(THREE.after(3).unwrap().count(), 0);
    }

    #[test]
    fn a_newer_or_negative_version_is_refused() {
        assert!(matches!(
            THREE.after(4),
            Err(BackendError::SchemaTooNew {
                found: 4,
                supported: 3
            })
        ));
        assert!(matches!(
            THREE.after(-1),
            Err(BackendError::Corrupt(Corruption::NegativeSchemaVersion(-1)))
        ));
    }
}
