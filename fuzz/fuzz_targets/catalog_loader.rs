//! Any bytes given to the catalog loader give a catalog or a typed error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sched_core::policy::Policy;
use sched_core::Catalog;

fuzz_target!(|data: &[u8]| {
    if let Ok(catalog) = Catalog::from_csv_reader(data, "fuzz.csv") {
        // A catalog that loads also validates against the default policy.
        let _ = Policy::default().candidates(&catalog);
    }
});
