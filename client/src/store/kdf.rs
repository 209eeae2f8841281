//! [`KdfParams`]: the Argon2id cost of turning a passphrase into a database key, with the
//! limits a salt file's parameters are held to.

use argon2::{Algorithm, Argon2, Params, Version};

use super::StoreError;

/// Largest Argon2 memory a salt file may ask for, KiB (1 GiB): a damaged or hostile file must not
/// make opening the profile exhaust memory.
pub const MAX_KDF_MEMORY_KIB: u32 = 1 << 20;

/// Length of the passphrase salt, bytes (the Argon2 RFC's recommendation).
pub const SALT_LEN: usize = 16;

/// Argon2id cost parameters for a passphrase key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    memory_kib: u32,
    iterations: u32,
    parallelism: u32,
}

impl KdfParams {
    /// Checks the parameters against Argon2's limits and [`MAX_KDF_MEMORY_KIB`].
    pub fn new(memory_kib: u32, iterations: u32, parallelism: u32) -> Result<Self, StoreError> {
        if memory_kib > MAX_KDF_MEMORY_KIB {
            return Err(StoreError::KdfParams(format!(
                "memory of {memory_kib} KiB exceeds the {MAX_KDF_MEMORY_KIB} KiB limit"
            )));
        }
        Params::new(memory_kib, iterations, parallelism, Some(32))
            .map_err(|error| StoreError::KdfParams(error.to_string()))?;
        Ok(Self {
            memory_kib,
            iterations,
            parallelism,
        })
    }

    /// Memory, KiB.
    pub fn memory_kib(&self) -> u32 {
        self.memory_kib
    }

    /// Passes over memory.
    pub fn iterations(&self) -> u32 {
        self.iterations
    }

    /// Lanes.
    pub fn parallelism(&self) -> u32 {
        self.parallelism
    }

    pub(super) fn argon2(&self) -> Result<Argon2<'static>, StoreError> {
        let params = Params::new(self.memory_kib, self.iterations, self.parallelism, Some(32))
            .map_err(|error| StoreError::KdfParams(error.to_string()))?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }
}

impl Default for KdfParams {
    /// 64 MiB, 3 passes, 1 lane: about half a second on a phone-class core, and the memory makes
    /// guessing on GPUs expensive (OWASP's Argon2id guidance lists 19 MiB/2 passes as a floor).
    fn default() -> Self {
        Self {
            memory_kib: 64 * 1024,
            iterations: 3,
            parallelism: 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_are_checked() {
        assert!(KdfParams::new(MAX_KDF_MEMORY_KIB + 1, 1, 1).is_err());
        assert!(KdfParams::new(64, 0, 1).is_err());
        assert!(KdfParams::new(64, 1, 0).is_err());
        assert!(KdfParams::new(4, 1, 1).is_err(), "below Argon2's minimum memory");
        let default = KdfParams::default();
        assert_eq!(
            KdfParams::new(default.memory_kib(), default.iterations(), default.parallelism()).unwrap(),
            default
        );
    }
}
