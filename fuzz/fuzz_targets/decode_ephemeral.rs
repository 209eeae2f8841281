#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| hush_client_core::fuzzing::decode_ephemeral(data));
