//! Property tests: no input makes the catalog loader panic, and whatever it accepts is valid.

use proptest::prelude::*;
use sched_core::catalog::{CapacityType, Catalog};

const HEADER: &str = concat!(
    "instance_type,vcpus,memory_gib,arch,ondemand_usd_hour,",
    "spot_usd_hour,interruption_bucket,region"
);

/// What an accepted catalog must satisfy.
fn check_invariants(catalog: &Catalog) {
    assert!(!catalog.types().is_empty());
    for ty in catalog.types() {
        assert!(ty.vcpus > 0 && ty.memory_mib > 0, "{ty:?}");
    }
    let on_demand =
        catalog.offerings().iter().filter(|o| o.capacity_type == CapacityType::OnDemand).count();
    assert_eq!(on_demand, catalog.types().len());
    for (index, offering) in catalog.offerings().iter().enumerate() {
        assert_eq!(offering.id.0 as usize, index);
        assert!((offering.instance_type.0 as usize) < catalog.types().len());
        assert!(offering.price.0.is_finite() && offering.price.0 > 0.0);
        assert!(offering.interruption.is_none_or(|b| b.0 <= 4));
    }
}

/// Loads `bytes`; an accepted catalog must be valid, a refusal must format a message.
fn load(bytes: &[u8]) {
    match Catalog::from_csv_reader(bytes, "fuzz") {
        Ok(catalog) => check_invariants(&catalog),
        Err(err) => assert!(err.to_string().starts_with("fuzz"), "{err}"),
    }
}

/// Cells that are plausible, borderline or plain wrong.
fn cell() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("0".to_owned()),
        Just("-1".to_owned()),
        Just("NaN".to_owned()),
        Just("inf".to_owned()),
        Just("1e308".to_owned()),
        Just("4.5".to_owned()),
        Just("amd64".to_owned()),
        Just("us-east-1".to_owned()),
        Just("\"".to_owned()),
        "[0-9]{1,6}(\\.[0-9]{0,4})?",
        "[a-z0-9.\\-]{1,12}",
        any::<String>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_lines_after_a_valid_header_never_panic(
        lines in prop::collection::vec(any::<String>(), 0..6)
    ) {
        let text = format!("{HEADER}\n{}", lines.join("\n"));
        load(text.as_bytes());
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        load(&bytes);
    }

    #[test]
    fn rows_of_arbitrary_cells_never_panic(
        rows in prop::collection::vec(prop::collection::vec(cell(), 8), 1..5)
    ) {
        let mut text = format!("{HEADER}\n");
        for row in rows {
            text.push_str(&row.join(","));
            text.push('\n');
        }
        load(text.as_bytes());
    }

    #[test]
    fn one_bad_cell_in_a_good_row_never_panics(index in 0_usize..8, value in cell()) {
        let mut cells: Vec<String> = "m6i.large,2,8.0,amd64,0.096,0.03552,2,us-east-1"
            .split(',')
            .map(str::to_owned)
            .collect();
        cells[index] = value;
        let text = format!("{HEADER}\n{}\n", cells.join(","));
        load(text.as_bytes());
    }
}
