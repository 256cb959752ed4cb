//! Loading the bundled EC2 catalog, and every validation error on small inline files.

use sched_core::catalog::{
    Architecture, CapacityType, Catalog, CatalogError, FieldProblem, InstanceType,
    InterruptionBucket, Offering,
};

/// The bundled us-east-1 catalog.
fn bundled_path() -> String {
    format!("{}/../../data/catalog/ec2_catalog_us-east-1.csv", env!("CARGO_MANIFEST_DIR"))
}

fn bundled() -> Catalog {
    Catalog::from_csv_path(bundled_path()).expect("the bundled catalog loads")
}

fn find<'a>(catalog: &'a Catalog, name: &str) -> &'a InstanceType {
    let id = catalog.find_type(name).unwrap_or_else(|| panic!("{name} is in the catalog"));
    catalog.instance_type(id)
}

fn offerings_of<'a>(catalog: &'a Catalog, name: &str) -> Vec<&'a Offering> {
    let id = catalog.find_type(name).expect("type exists");
    catalog.offerings().iter().filter(|o| o.instance_type == id).collect()
}

fn price_of(catalog: &Catalog, name: &str, capacity_type: CapacityType) -> Option<f64> {
    offerings_of(catalog, name)
        .into_iter()
        .find(|o| o.capacity_type == capacity_type)
        .map(|o| o.price.0)
}

// --- the bundled file ---------------------------------------------------------------------

/// Types in the file (data rows, header excluded), and rows with a spot price.
/// Counted from the file with a separate script; `counts_match_a_naive_scan` checks them again.
const BUNDLED_TYPES: usize = 1345;
const BUNDLED_SPOT_ROWS: usize = 883;

#[test]
fn bundled_catalog_has_every_type_and_offering() {
    let catalog = bundled();
    assert_eq!(catalog.region, "us-east-1");
    assert_eq!(catalog.types().len(), BUNDLED_TYPES);
    let on_demand =
        catalog.offerings().iter().filter(|o| o.capacity_type == CapacityType::OnDemand).count();
    let spot = catalog.offerings().iter().filter(|o| o.capacity_type == CapacityType::Spot).count();
    assert_eq!(on_demand, BUNDLED_TYPES);
    assert_eq!(spot, BUNDLED_SPOT_ROWS);
    assert_eq!(catalog.offerings().len(), BUNDLED_TYPES + BUNDLED_SPOT_ROWS);
}

#[test]
fn counts_match_a_naive_scan() {
    // The bundled file has no quoted fields, so splitting on commas is exact here.
    let text = std::fs::read_to_string(bundled_path()).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let spot_col = header.iter().position(|h| *h == "spot_usd_hour").unwrap();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), BUNDLED_TYPES);
    assert_eq!(rows.iter().filter(|r| !r[spot_col].is_empty()).count(), BUNDLED_SPOT_ROWS);
    assert_eq!(BUNDLED_TYPES - BUNDLED_SPOT_ROWS, 462, "PROVENANCE.md: 462 types without spot");
}

#[test]
fn bundled_offerings_are_region_wide_and_well_formed() {
    let catalog = bundled();
    for (index, offering) in catalog.offerings().iter().enumerate() {
        assert_eq!(offering.id.0 as usize, index);
        assert_eq!(offering.zone, None);
        assert!(offering.price.0.is_finite() && offering.price.0 > 0.0);
        match offering.capacity_type {
            CapacityType::OnDemand => assert_eq!(offering.interruption, None),
            CapacityType::Spot => {
                let bucket = offering.interruption.expect("every bundled spot row has a bucket");
                assert!(bucket.0 <= 4);
            }
        }
    }
    let arm = catalog.types().iter().filter(|t| t.arch == Architecture::Arm64).count();
    assert_eq!(arm, 396, "PROVENANCE.md: 949 amd64 and 396 arm64 types");
    assert_eq!(catalog.types().iter().filter(|t| t.gpus > 0).count(), 64);
    assert_eq!(catalog.types().iter().filter(|t| t.accelerators > 0).count(), 11);
}

#[test]
fn m6i_large_has_the_values_in_the_file() {
    let catalog = bundled();
    let ty = find(&catalog, "m6i.large");
    assert_eq!(ty.family, "m6i");
    assert_eq!(ty.vcpus, 2);
    assert_eq!(ty.memory_mib, 8192);
    assert_eq!(ty.arch, Architecture::X86_64);
    assert_eq!((ty.gpus, ty.gpu_model.as_deref(), ty.accelerators), (0, None, 0));
    assert_eq!(price_of(&catalog, "m6i.large", CapacityType::OnDemand), Some(0.096));
    assert_eq!(price_of(&catalog, "m6i.large", CapacityType::Spot), Some(0.03552));
    let spot = offerings_of(&catalog, "m6i.large")
        .into_iter()
        .find(|o| o.capacity_type == CapacityType::Spot)
        .unwrap();
    assert_eq!(spot.interruption, Some(InterruptionBucket(2)));
}

#[test]
fn gpu_arm_and_accelerator_types_keep_their_columns() {
    let catalog = bundled();

    let g5 = find(&catalog, "g5.xlarge");
    assert_eq!((g5.vcpus, g5.memory_mib, g5.gpus), (4, 16_384, 1));
    assert_eq!(g5.gpu_model.as_deref(), Some("nvidia a10g"));
    assert_eq!(price_of(&catalog, "g5.xlarge", CapacityType::OnDemand), Some(1.006));

    let p4d = find(&catalog, "p4d.24xlarge");
    assert_eq!((p4d.vcpus, p4d.memory_mib, p4d.gpus), (96, 1_179_648, 8));

    let a1 = find(&catalog, "a1.medium");
    assert_eq!((a1.arch, a1.vcpus, a1.memory_mib), (Architecture::Arm64, 1, 2048));
    // Equal spot and on-demand prices (0 % savings in the advisor data) are kept as they are.
    assert_eq!(price_of(&catalog, "a1.medium", CapacityType::Spot), Some(0.0255));

    let inf2 = find(&catalog, "inf2.xlarge");
    assert_eq!((inf2.gpus, inf2.accelerators), (0, 1));
}

#[test]
fn types_without_advisor_data_have_no_spot_offering() {
    let catalog = bundled();
    let offerings = offerings_of(&catalog, "t2.nano");
    assert_eq!(offerings.len(), 1);
    assert_eq!(offerings[0].capacity_type, CapacityType::OnDemand);
    assert_eq!(offerings[0].price.0, 0.0058);
    assert_eq!(find(&catalog, "u7in-32tb.224xlarge").memory_mib, 32 * 1024 * 1024);
}

#[test]
fn fractional_gib_rounds_to_the_nearest_mib() {
    let catalog = bundled();
    // memory_gib in the file is MiB / 1024 written with three decimals.
    assert_eq!(find(&catalog, "c1.medium").memory_mib, 1740); // 1.699 GiB
    assert_eq!(find(&catalog, "t1.micro").memory_mib, 627); // 0.612 GiB
    assert_eq!(find(&catalog, "m2.4xlarge").memory_mib, 70_041); // 68.399 GiB
    assert_eq!(find(&catalog, "c4.large").memory_mib, 3840); // 3.75 GiB, exact
}

#[test]
fn a_missing_file_is_an_io_error_naming_the_path() {
    let err = Catalog::from_csv_path("/nonexistent/catalog.csv").unwrap_err();
    assert!(matches!(err, CatalogError::Io { .. }), "{err:?}");
    assert!(err.to_string().contains("/nonexistent/catalog.csv"), "{err}");
}

// --- inline files -------------------------------------------------------------------------

const HEADER: &str = concat!(
    "instance_type,vcpus,memory_gib,arch,ondemand_usd_hour,",
    "spot_usd_hour,interruption_bucket,region"
);
const GOOD_ROW: &str = "m6i.large,2,8.0,amd64,0.096,0.03552,2,us-east-1";

/// A catalog text: the header, one good row on line 2, then `rows` from line 3 on.
fn inline(rows: &[&str]) -> String {
    let mut text = format!("{HEADER}\n{GOOD_ROW}\n");
    for row in rows {
        text.push_str(row);
        text.push('\n');
    }
    text
}

fn load(text: &str) -> Result<Catalog, CatalogError> {
    Catalog::from_csv_reader(text.as_bytes(), "inline.csv")
}

/// Loads `text`, expects an error, and checks its message names every one of `parts`.
fn load_err(text: &str, parts: &[&str]) -> CatalogError {
    let err = load(text).expect_err("this catalog must be refused");
    let message = err.to_string();
    assert!(message.starts_with("inline.csv"), "names the source: {message}");
    for part in parts {
        assert!(message.contains(part), "`{message}` should mention `{part}`");
    }
    err
}

/// Expects an `InvalidField` on line 3 for `field`, with `problem`, and a message naming all three.
fn expect_invalid(row: &str, field: &str, value: &str, problem: FieldProblem) {
    let err = load_err(&inline(&[row]), &["line 3", &format!("`{field}`"), &format!("`{value}`")]);
    match err {
        CatalogError::InvalidField { line, field: f, value: v, problem: p, .. } => {
            assert_eq!((line, f.as_str(), v.as_str(), p), (3, field, value, problem));
        }
        other => panic!("expected InvalidField, got {other:?}"),
    }
}

#[test]
fn a_good_inline_catalog_loads() {
    let catalog = load(&inline(&["c7g.xlarge,4,8,arm64,0.145,,,us-east-1"])).unwrap();
    assert_eq!(catalog.types().len(), 2);
    assert_eq!(catalog.offerings().len(), 3);
    let c7g = find(&catalog, "c7g.xlarge");
    assert_eq!(c7g.family, "c7g", "family defaults to the name before the dot");
    assert_eq!((c7g.arch, c7g.memory_mib, c7g.gpus), (Architecture::Arm64, 8192, 0));
}

#[test]
fn bad_prices_are_refused() {
    let row = |od: &str| format!("c5.large,2,4,amd64,{od},,,us-east-1");
    expect_invalid(&row("-0.085"), "ondemand_usd_hour", "-0.085", FieldProblem::NotPositive);
    expect_invalid(&row("0"), "ondemand_usd_hour", "0", FieldProblem::NotPositive);
    expect_invalid(&row("NaN"), "ondemand_usd_hour", "NaN", FieldProblem::NotFinite);
    expect_invalid(&row("inf"), "ondemand_usd_hour", "inf", FieldProblem::NotFinite);
    expect_invalid(&row("1e999"), "ondemand_usd_hour", "1e999", FieldProblem::NotFinite);
    expect_invalid(&row(""), "ondemand_usd_hour", "", FieldProblem::Empty);
}

#[test]
fn a_malformed_spot_price_is_refused() {
    let row = "c5.large,2,4,amd64,0.085,0.0x3,1,us-east-1";
    expect_invalid(row, "spot_usd_hour", "0.0x3", FieldProblem::NotANumber);
    let row = "c5.large,2,4,amd64,0.085,-0.03,1,us-east-1";
    expect_invalid(row, "spot_usd_hour", "-0.03", FieldProblem::NotPositive);
}

#[test]
fn a_spot_price_above_on_demand_is_allowed() {
    let catalog = load(&inline(&["c5.large,2,4,amd64,0.085,0.2,4,us-east-1"])).unwrap();
    assert_eq!(price_of(&catalog, "c5.large", CapacityType::Spot), Some(0.2));
    assert_eq!(price_of(&catalog, "c5.large", CapacityType::OnDemand), Some(0.085));
}

#[test]
fn bad_vcpus_are_refused() {
    let row = |v: &str| format!("c5.large,{v},4,amd64,0.085,,,us-east-1");
    expect_invalid(&row("0"), "vcpus", "0", FieldProblem::NotPositive);
    expect_invalid(&row("2.5"), "vcpus", "2.5", FieldProblem::NotWhole);
    expect_invalid(&row("-2"), "vcpus", "-2", FieldProblem::NotPositive);
    expect_invalid(&row("two"), "vcpus", "two", FieldProblem::NotANumber);
}

#[test]
fn bad_memory_is_refused() {
    let row = |m: &str| format!("c5.large,2,{m},amd64,0.085,,,us-east-1");
    expect_invalid(&row("0"), "memory_gib", "0", FieldProblem::NotPositive);
    expect_invalid(&row("-4"), "memory_gib", "-4", FieldProblem::NotPositive);
    expect_invalid(&row("nan"), "memory_gib", "nan", FieldProblem::NotFinite);
    expect_invalid(&row("0.0001"), "memory_gib", "0.0001", FieldProblem::RoundsToZero);
}

#[test]
fn an_unknown_architecture_is_refused() {
    let row = "c5.large,2,4,sparc64,0.085,,,us-east-1";
    expect_invalid(row, "arch", "sparc64", FieldProblem::UnknownArchitecture);
}

#[test]
fn interruption_buckets_outside_0_to_4_are_refused() {
    let row = |b: &str| format!("c5.large,2,4,amd64,0.085,0.03,{b},us-east-1");
    expect_invalid(&row("5"), "interruption_bucket", "5", FieldProblem::BucketOutOfRange);
    expect_invalid(&row("-1"), "interruption_bucket", "-1", FieldProblem::BucketOutOfRange);
    expect_invalid(&row("x"), "interruption_bucket", "x", FieldProblem::NotANumber);
    // A bucket needs a spot offering to belong to.
    let lone = "c5.large,2,4,amd64,0.085,,3,us-east-1";
    expect_invalid(lone, "interruption_bucket", "3", FieldProblem::BucketWithoutSpotPrice);
}

#[test]
fn a_spot_price_without_a_bucket_gives_an_unrated_spot_offering() {
    let catalog = load(&inline(&["c5.large,2,4,amd64,0.085,0.03,,us-east-1"])).unwrap();
    let spot = offerings_of(&catalog, "c5.large")
        .into_iter()
        .find(|o| o.capacity_type == CapacityType::Spot)
        .unwrap();
    assert_eq!(spot.interruption, None);
}

#[test]
fn a_duplicate_type_names_both_lines() {
    let text = inline(&["c5.large,2,4,amd64,0.085,,,us-east-1", GOOD_ROW]);
    let err = load_err(&text, &["line 4", "m6i.large", "line 2"]);
    assert!(
        matches!(err, CatalogError::DuplicateTypeRow { first_line: 2, line: 4, ref name, .. }
            if name == "m6i.large"),
        "{err:?}"
    );
}

/// Regression: `m6i.large` and `M6I.LARGE` were loaded as two types.
#[test]
fn a_type_named_twice_in_different_case_is_a_duplicate() {
    let upper = GOOD_ROW.replacen("m6i.large", "M6I.LARGE", 1);
    let text = inline(&[&upper]);
    let err = load_err(&text, &["M6I.LARGE", "line 2", "line 3"]);
    assert!(
        matches!(err, CatalogError::DuplicateTypeRow { first_line: 2, line: 3, .. }),
        "{err:?}"
    );
}

#[test]
fn mixed_regions_are_refused() {
    let text = inline(&["c5.large,2,4,amd64,0.085,,,us-west-2"]);
    let err = load_err(&text, &["line 3", "`region`", "us-west-2", "us-east-1", "line 2"]);
    assert!(matches!(err, CatalogError::MixedRegions { line: 3, first_line: 2, .. }), "{err:?}");
}

#[test]
fn empty_and_header_only_files_are_refused() {
    assert!(matches!(load_err("", &["empty"]), CatalogError::EmptyFile { .. }));
    let header_only = format!("{HEADER}\n");
    assert!(matches!(
        load_err(&header_only, &["no instance type rows"]),
        CatalogError::NoRows { .. }
    ));
    assert!(matches!(load_err(HEADER, &["no instance type rows"]), CatalogError::NoRows { .. }));
}

#[test]
fn a_missing_required_column_is_named() {
    let text =
        "instance_type,vcpus,arch,ondemand_usd_hour,region\nc5.large,2,amd64,0.085,us-east-1\n";
    let err = load_err(text, &["`memory_gib`", "missing"]);
    assert!(
        matches!(err, CatalogError::MissingColumn { ref column, .. } if column == "memory_gib"),
        "{err:?}"
    );
}

#[test]
fn columns_are_found_by_name_in_any_order() {
    let text =
        "Region,extra,ARCH,ondemand_usd_hour,memory_gib,gpus,gpu_model,vcpus,instance_type\n\
                us-east-1,whatever,x86_64,1.006,16,1,nvidia a10g,4,g5.xlarge\n";
    let catalog = load(text).unwrap();
    let g5 = find(&catalog, "g5.xlarge");
    assert_eq!((g5.vcpus, g5.memory_mib, g5.gpus), (4, 16_384, 1));
    assert_eq!(g5.gpu_model.as_deref(), Some("nvidia a10g"));
    assert_eq!(catalog.offerings().len(), 1, "no spot column, no spot offering");
}

#[test]
fn a_repeated_column_is_refused() {
    let text = format!("{HEADER},vcpus\n{GOOD_ROW},4\n");
    let err = load_err(&text, &["`vcpus`", "more than once"]);
    assert!(matches!(err, CatalogError::DuplicateColumn { .. }), "{err:?}");
}

#[test]
fn a_row_with_the_wrong_field_count_names_its_line() {
    let text = inline(&["c5.large,2,4,amd64"]);
    let err = load_err(&text, &["line 3", "4 fields", "8"]);
    assert!(matches!(err, CatalogError::Csv { line: Some(3), .. }), "{err:?}");
}

#[test]
fn invalid_utf8_is_a_csv_error_not_a_panic() {
    let mut bytes = inline(&[]).into_bytes();
    bytes.extend_from_slice(b"c5.large,2,4,amd64,0.085,,,us-east-\xff\n");
    let err = Catalog::from_csv_reader(&bytes[..], "inline.csv").unwrap_err();
    assert!(matches!(err, CatalogError::Csv { line: Some(3), .. }), "{err:?}");
    assert!(err.to_string().contains("UTF-8"), "{err}");
}

#[test]
fn names_with_whitespace_are_refused() {
    let row = "\"c5 large\",2,4,amd64,0.085,,,us-east-1";
    expect_invalid(row, "instance_type", "c5 large", FieldProblem::BadName);
}

#[test]
fn cells_are_trimmed_and_a_byte_order_mark_is_ignored() {
    let text = format!("\u{feff}{HEADER}\n m6i.large , 2 , 8.0 , amd64 , 0.096 , , , us-east-1 \n");
    let catalog = load(&text).unwrap();
    assert_eq!(find(&catalog, "m6i.large").memory_mib, 8192);
}

#[test]
fn long_values_are_cut_in_messages() {
    let long = "9".repeat(500);
    let row = format!("c5.large,2,4,amd64,0.085,,{long},us-east-1");
    let err = load(&inline(&[&row])).unwrap_err();
    let message = err.to_string();
    assert!(message.len() < 300, "{message}");
    assert!(message.contains("..."), "{message}");
}
