//! Loading a catalog from the bundled CSV format, and the errors it reports.
//!
//! The format is one row per instance type (see `docs/catalog.md`). Each row
//! becomes one [`InstanceType`], one on-demand [`Offering`] and, when it has a
//! spot price, one spot [`Offering`]; all prices are region-wide, so every
//! offering has `zone: None`.
//!
//! Parsing and validation happen here, once: the rest of the crate only sees
//! catalogs whose every number is finite, positive where it must be, and in
//! its unit. Each error names the source, the 1-based line, the column and
//! the offending value, so a user can go straight to the cell.
//!
//! [`Catalog::from_csv_reader`] is the primary entry point and does no I/O of
//! its own beyond reading what it is handed. [`Catalog::from_csv_path`] is a
//! convenience that opens a file; it is the only place in `sched-core` that
//! touches the file system.

use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use thiserror::Error;

use super::{
    Architecture, CapacityType, Catalog, InstanceType, InstanceTypeId, InterruptionBucket,
    Offering, OfferingId, UsdPerHour,
};
use crate::resources::MIB_PER_GIB;

/// Largest memory accepted for one instance type, MiB (1 EiB). Far beyond any
/// machine, and small enough that capacity sums stay far from `u64::MAX`.
const MAX_MEMORY_MIB: u64 = 1 << 40;

/// Most vCPUs accepted for one instance type: far beyond any machine (the
/// largest EC2 type has 896), as [`MAX_MEMORY_MIB`] is for memory, so that
/// `4294967295` is refused like `1e20` rather than read as a real count.
const MAX_VCPUS: u32 = 65_536;

/// Highest spot interruption bucket (`>20%`).
const MAX_INTERRUPTION_BUCKET: u8 = 4;

/// How many characters of an offending value an error message shows.
const SHOWN_VALUE_CHARS: usize = 60;

/// Why a catalog could not be built.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum CatalogError {
    /// Two instance types with the same name were given to [`Catalog::new`].
    #[error("duplicate instance type `{name}`{}", at_line(.line))]
    DuplicateType {
        /// The type name.
        name: String,
        /// 1-based line of the second row, when loaded from a file.
        line: Option<u64>,
    },
    /// An offering points at no instance type.
    #[error("offering {index} points at no instance type")]
    DanglingOffering {
        /// Its index.
        index: usize,
    },
    /// The catalog file could not be opened or read.
    #[error("{source_name}: cannot read the catalog: {source}")]
    Io {
        /// The file path or the name given to the reader.
        source_name: String,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The text is not well-formed CSV: a row with the wrong number of
    /// fields, invalid UTF-8, or a broken quote.
    #[error("{source_name}{}: malformed CSV: {detail}", at_line(.line))]
    Csv {
        /// The file path or the name given to the reader.
        source_name: String,
        /// 1-based line where the broken record starts, when known.
        line: Option<u64>,
        /// What is wrong with it.
        detail: String,
    },
    /// The input holds no header line at all.
    #[error("{source_name}: the catalog is empty (no header line)")]
    EmptyFile {
        /// The file path or the name given to the reader.
        source_name: String,
    },
    /// The header is there but no instance type rows follow it.
    #[error("{source_name}: the catalog has a header but no instance type rows")]
    NoRows {
        /// The file path or the name given to the reader.
        source_name: String,
    },
    /// A required column is absent from the header.
    #[error(
        "{source_name}, line 1: required column `{column}` is missing from the header \
         (required: {})",
        required_columns()
    )]
    MissingColumn {
        /// The file path or the name given to the reader.
        source_name: String,
        /// The missing column's name.
        column: String,
    },
    /// A known column appears twice in the header, so which one to read is
    /// ambiguous.
    #[error("{source_name}, line 1: column `{column}` appears more than once in the header")]
    DuplicateColumn {
        /// The file path or the name given to the reader.
        source_name: String,
        /// The repeated column's name.
        column: String,
    },
    /// One cell holds a value that is not allowed there.
    #[error(
        "{source_name}, line {line}: field `{field}` has value `{}`: {problem}",
        shown(.value)
    )]
    InvalidField {
        /// The file path or the name given to the reader.
        source_name: String,
        /// 1-based line of the row.
        line: u64,
        /// The column name.
        field: String,
        /// The cell's text, after trimming surrounding whitespace.
        value: String,
        /// What is wrong with it.
        problem: FieldProblem,
    },
    /// Two rows describe the same instance type.
    #[error(
        "{source_name}, line {line}: field `instance_type` has value `{}`: duplicate of \
         the type on line {first_line}",
        shown(.name)
    )]
    DuplicateTypeRow {
        /// The file path or the name given to the reader.
        source_name: String,
        /// The type name.
        name: String,
        /// 1-based line of the first row with that name.
        first_line: u64,
        /// 1-based line of the repeated row.
        line: u64,
    },
    /// Rows of one file name different regions; a catalog holds one region.
    #[error(
        "{source_name}, line {line}: field `region` has value `{}`: the catalog is for \
         `{}` (line {first_line}); one file holds one region",
        shown(.region),
        shown(.first_region)
    )]
    MixedRegions {
        /// The file path or the name given to the reader.
        source_name: String,
        /// 1-based line of the first row with another region.
        line: u64,
        /// The region on that row.
        region: String,
        /// The region of the first data row.
        first_region: String,
        /// 1-based line of the first data row.
        first_line: u64,
    },
}

/// What is wrong with one cell of a catalog file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FieldProblem {
    /// A required cell is empty.
    Empty,
    /// The text is not a number.
    NotANumber,
    /// The number is NaN or infinite.
    NotFinite,
    /// The number must be greater than zero.
    NotPositive,
    /// The number must not be negative.
    Negative,
    /// The number must be a whole number.
    NotWhole,
    /// The number is beyond any real machine.
    TooLarge,
    /// The memory is positive but rounds to 0 MiB.
    RoundsToZero,
    /// The interruption bucket is outside `0..=4`.
    BucketOutOfRange,
    /// The architecture is none of the known spellings.
    UnknownArchitecture,
    /// A name holds whitespace or control characters.
    BadName,
    /// An interruption bucket is given on a row without a spot price.
    BucketWithoutSpotPrice,
    /// A price above [`MAX_PRICE_USD_HOUR`]: a typo or a unit mix-up.
    AbsurdPrice,
    /// A price below [`MIN_PRICE_USD_HOUR`]: a typo or a unit mix-up.
    AbsurdlyCheap,
}

impl fmt::Display for FieldProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FieldProblem::Empty => "must not be empty",
            FieldProblem::NotANumber => "is not a number",
            FieldProblem::NotFinite => "must be a finite number (not NaN or infinite)",
            FieldProblem::NotPositive => "must be greater than zero",
            FieldProblem::Negative => "must not be negative",
            FieldProblem::NotWhole => "must be a whole number",
            FieldProblem::TooLarge => "is too large for any instance type",
            FieldProblem::RoundsToZero => "rounds to 0 MiB",
            FieldProblem::BucketOutOfRange => "must be an interruption bucket from 0 to 4",
            FieldProblem::UnknownArchitecture => {
                "is not a known architecture (amd64, x86_64, x86-64, arm64, aarch64)"
            }
            FieldProblem::BadName => "must not contain whitespace or control characters",
            FieldProblem::BucketWithoutSpotPrice => {
                "needs a spot price, but `spot_usd_hour` is empty"
            }
            FieldProblem::AbsurdPrice => {
                "is above 10000 USD per hour, more than any instance type costs (a unit mix-up?)"
            }
            FieldProblem::AbsurdlyCheap => {
                "is below 0.0001 USD per hour, less than any instance type costs (a unit \
                 mix-up?)"
            }
        })
    }
}

/// `, line N` when the line is known, nothing otherwise.
fn at_line(line: &Option<u64>) -> String {
    match *line {
        Some(line) => format!(", line {line}"),
        None => String::new(),
    }
}

/// A value as an error message shows it: escaped, and cut after
/// [`SHOWN_VALUE_CHARS`] characters.
fn shown(value: &str) -> String {
    let mut out: String =
        value.chars().take(SHOWN_VALUE_CHARS).flat_map(char::escape_debug).collect();
    if value.chars().nth(SHOWN_VALUE_CHARS).is_some() {
        out.push_str("...");
    }
    out
}

/// The required column names, comma-separated.
fn required_columns() -> String {
    let names: Vec<&str> =
        Column::ALL.iter().filter(|c| c.is_required()).map(|c| c.header()).collect();
    names.join(", ")
}

/// The columns the loader reads. Any other column is ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    InstanceType,
    Family,
    Vcpus,
    MemoryGib,
    Arch,
    Gpus,
    GpuModel,
    Accelerators,
    OnDemandPrice,
    SpotPrice,
    InterruptionBucket,
    Region,
}

impl Column {
    const ALL: [Column; 12] = [
        Column::InstanceType,
        Column::Family,
        Column::Vcpus,
        Column::MemoryGib,
        Column::Arch,
        Column::Gpus,
        Column::GpuModel,
        Column::Accelerators,
        Column::OnDemandPrice,
        Column::SpotPrice,
        Column::InterruptionBucket,
        Column::Region,
    ];

    fn header(self) -> &'static str {
        match self {
            Column::InstanceType => "instance_type",
            Column::Family => "family",
            Column::Vcpus => "vcpus",
            Column::MemoryGib => "memory_gib",
            Column::Arch => "arch",
            Column::Gpus => "gpus",
            Column::GpuModel => "gpu_model",
            Column::Accelerators => "accelerators",
            Column::OnDemandPrice => "ondemand_usd_hour",
            Column::SpotPrice => "spot_usd_hour",
            Column::InterruptionBucket => "interruption_bucket",
            Column::Region => "region",
        }
    }

    fn is_required(self) -> bool {
        matches!(
            self,
            Column::InstanceType
                | Column::Vcpus
                | Column::MemoryGib
                | Column::Arch
                | Column::OnDemandPrice
                | Column::Region
        )
    }
}

/// Where each known column sits in a record, by [`Column`] discriminant.
struct ColumnMap([Option<usize>; Column::ALL.len()]);

impl ColumnMap {
    /// Finds the known columns in a header, matching names case-insensitively.
    fn from_header(header: &csv::StringRecord, source_name: &str) -> Result<Self, CatalogError> {
        let mut positions = [None; Column::ALL.len()];
        for (index, name) in header.iter().enumerate() {
            let Some(column) = Column::ALL.iter().find(|c| c.header().eq_ignore_ascii_case(name))
            else {
                continue;
            };
            let slot = &mut positions[*column as usize];
            if slot.is_some() {
                return Err(CatalogError::DuplicateColumn {
                    source_name: source_name.to_owned(),
                    column: column.header().to_owned(),
                });
            }
            *slot = Some(index);
        }
        if let Some(missing) =
            Column::ALL.iter().find(|c| c.is_required() && positions[**c as usize].is_none())
        {
            return Err(CatalogError::MissingColumn {
                source_name: source_name.to_owned(),
                column: missing.header().to_owned(),
            });
        }
        Ok(ColumnMap(positions))
    }
}

/// One data record with what is needed to report on its cells.
struct Row<'a> {
    record: &'a csv::StringRecord,
    columns: &'a ColumnMap,
    source_name: &'a str,
    line: u64,
}

impl Row<'_> {
    /// The cell's text, or `""` when the column is absent.
    fn text(&self, column: Column) -> &str {
        self.columns.0[column as usize].and_then(|i| self.record.get(i)).unwrap_or("")
    }

    /// A [`CatalogError::InvalidField`] for this row's cell.
    fn invalid(&self, column: Column, problem: FieldProblem) -> CatalogError {
        CatalogError::InvalidField {
            source_name: self.source_name.to_owned(),
            line: self.line,
            field: column.header().to_owned(),
            value: self.text(column).to_owned(),
            problem,
        }
    }

    /// Parses a cell that must not be empty.
    fn required<T>(
        &self,
        column: Column,
        parse: impl FnOnce(&str) -> Result<T, FieldProblem>,
    ) -> Result<T, CatalogError> {
        match self.text(column) {
            "" => Err(self.invalid(column, FieldProblem::Empty)),
            text => parse(text).map_err(|problem| self.invalid(column, problem)),
        }
    }

    /// Parses a cell that may be empty (or its column absent).
    fn optional<T>(
        &self,
        column: Column,
        parse: impl FnOnce(&str) -> Result<T, FieldProblem>,
    ) -> Result<Option<T>, CatalogError> {
        match self.text(column) {
            "" => Ok(None),
            text => parse(text).map(Some).map_err(|problem| self.invalid(column, problem)),
        }
    }
}

/// A row parsed and validated, before it joins the catalog.
struct ParsedRow {
    instance_type: InstanceType,
    region: String,
    on_demand: f64,
    spot: Option<(f64, Option<InterruptionBucket>)>,
}

/// Parses and validates every cell of one data row.
fn parse_row(row: &Row<'_>) -> Result<ParsedRow, CatalogError> {
    let name = row.required(Column::InstanceType, parse_name)?;
    let family = match row.optional(Column::Family, parse_name)? {
        Some(family) => family,
        None => name.split('.').next().unwrap_or(&name).to_owned(),
    };
    let vcpus = row.required(Column::Vcpus, parse_vcpus)?;
    let memory_mib = row.required(Column::MemoryGib, parse_memory_mib)?;
    let arch = row.required(Column::Arch, parse_arch)?;
    let gpus = row.optional(Column::Gpus, parse_count)?.unwrap_or(0);
    let gpu_model = row.optional(Column::GpuModel, |t| Ok(t.to_owned()))?;
    let accelerators = row.optional(Column::Accelerators, parse_count)?.unwrap_or(0);
    let on_demand = row.required(Column::OnDemandPrice, parse_price)?;
    let spot_price = row.optional(Column::SpotPrice, parse_price)?;
    let bucket = row.optional(Column::InterruptionBucket, parse_bucket)?;
    let region = row.required(Column::Region, parse_name)?;

    let spot = match (spot_price, bucket) {
        (Some(price), bucket) => Some((price, bucket)),
        (None, None) => None,
        (None, Some(_)) => {
            return Err(
                row.invalid(Column::InterruptionBucket, FieldProblem::BucketWithoutSpotPrice)
            )
        }
    };
    let instance_type =
        InstanceType { name, family, arch, vcpus, memory_mib, gpus, gpu_model, accelerators };
    Ok(ParsedRow { instance_type, region, on_demand, spot })
}

/// A number as written in the file: any decimal or exponent form `f64`
/// accepts, but finite.
fn parse_number(text: &str) -> Result<f64, FieldProblem> {
    let value: f64 = text.parse().map_err(|_| FieldProblem::NotANumber)?;
    if value.is_finite() {
        Ok(value)
    } else {
        Err(FieldProblem::NotFinite)
    }
}

/// The highest price per hour the loader accepts. The dearest EC2 type in
/// the bundled us-east-1 catalog, u7in-32tb.224xlarge, costs about 361 USD an
/// hour on demand; a price well above that is a typo or a price per month.
pub const MAX_PRICE_USD_HOUR: f64 = 10_000.0;

/// The lowest price per hour the loader accepts. The cheapest offering in
/// the bundled us-east-1 catalog, a spot `t4g.nano`, costs about 0.0011 USD
/// an hour; a price well below that (`5e-324`) is a typo or a unit mix-up,
/// and would make every cost ratio meaningless.
pub const MIN_PRICE_USD_HOUR: f64 = 0.0001;

/// A price in USD per hour: finite, greater than zero, not absurd either way.
fn parse_price(text: &str) -> Result<f64, FieldProblem> {
    let value = parse_number(text)?;
    if value <= 0.0 {
        Err(FieldProblem::NotPositive)
    } else if value < MIN_PRICE_USD_HOUR {
        Err(FieldProblem::AbsurdlyCheap)
    } else if value > MAX_PRICE_USD_HOUR {
        Err(FieldProblem::AbsurdPrice)
    } else {
        Ok(value)
    }
}

/// A whole, non-negative count that fits `u32`. `4` and `4.0` are accepted,
/// `4.5` is not.
fn parse_count(text: &str) -> Result<u32, FieldProblem> {
    if let Ok(count) = text.parse::<u32>() {
        return Ok(count);
    }
    let value = parse_number(text)?;
    if value < 0.0 {
        Err(FieldProblem::Negative)
    } else if value.fract() != 0.0 {
        Err(FieldProblem::NotWhole)
    } else if value > f64::from(u32::MAX) {
        Err(FieldProblem::TooLarge)
    } else {
        // Whole, in range: the cast is exact.
        Ok(value as u32)
    }
}

/// vCPUs: a whole count greater than zero and at most [`MAX_VCPUS`].
fn parse_vcpus(text: &str) -> Result<u32, FieldProblem> {
    match parse_count(text) {
        Ok(0) | Err(FieldProblem::Negative) => Err(FieldProblem::NotPositive),
        Ok(count) if count > MAX_VCPUS => Err(FieldProblem::TooLarge),
        other => other,
    }
}

/// Memory in GiB, converted to whole MiB by rounding to the nearest MiB.
///
/// The bundled file writes `MiB / 1024` with up to three decimals
/// (`1.699` for 1740 MiB), so rounding recovers the integer MiB the source
/// had; for whole GiB the conversion is exact (`8.0` is 8192 MiB).
fn parse_memory_mib(text: &str) -> Result<u64, FieldProblem> {
    let gib = parse_number(text)?;
    if gib <= 0.0 {
        return Err(FieldProblem::NotPositive);
    }
    // Multiplying by a power of two is exact in binary floating point.
    let mib = (gib * MIB_PER_GIB as f64).round();
    if mib < 1.0 {
        Err(FieldProblem::RoundsToZero)
    } else if mib > MAX_MEMORY_MIB as f64 {
        Err(FieldProblem::TooLarge)
    } else {
        // Whole, in range: the cast is exact.
        Ok(mib as u64)
    }
}

/// A spot interruption bucket, `0..=4`.
fn parse_bucket(text: &str) -> Result<InterruptionBucket, FieldProblem> {
    match parse_count(text) {
        Ok(b) if b <= u32::from(MAX_INTERRUPTION_BUCKET) => Ok(InterruptionBucket(b as u8)),
        Ok(_) | Err(FieldProblem::Negative | FieldProblem::TooLarge) => {
            Err(FieldProblem::BucketOutOfRange)
        }
        Err(problem) => Err(problem),
    }
}

fn parse_arch(text: &str) -> Result<Architecture, FieldProblem> {
    Architecture::parse(text).ok_or(FieldProblem::UnknownArchitecture)
}

/// A name (instance type, family, region): no whitespace, no control characters.
fn parse_name(text: &str) -> Result<String, FieldProblem> {
    if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Err(FieldProblem::BadName)
    } else {
        Ok(text.to_owned())
    }
}

/// Maps a `csv` error into ours, keeping the line and a readable detail.
fn csv_error(source_name: &str, error: csv::Error) -> CatalogError {
    let line = error.position().map(csv::Position::line);
    let detail = match error.kind() {
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
            format!("the row has {len} fields but the header has {expected_len}")
        }
        csv::ErrorKind::Utf8 { err, .. } => {
            format!("field {} is not valid UTF-8", err.field() + 1)
        }
        _ => error.to_string(),
    };
    match error.into_kind() {
        csv::ErrorKind::Io(source) => {
            CatalogError::Io { source_name: source_name.to_owned(), source }
        }
        _ => CatalogError::Csv { source_name: source_name.to_owned(), line, detail },
    }
}

impl Catalog {
    /// Loads and validates a catalog file in the bundled CSV format
    /// (`docs/catalog.md`). Errors name the file by its path.
    ///
    /// # Errors
    /// The file cannot be opened or read, or its content fails any check of
    /// [`Catalog::from_csv_reader`].
    pub fn from_csv_path(path: impl AsRef<Path>) -> Result<Catalog, CatalogError> {
        let path = path.as_ref();
        let source_name = path.display().to_string();
        let file = File::open(path)
            .map_err(|source| CatalogError::Io { source_name: source_name.clone(), source })?;
        Catalog::from_csv_reader(file, &source_name)
    }

    /// Reads and validates a catalog in the bundled CSV format
    /// (`docs/catalog.md`) from `reader`; `source_name` (a path, a URL, a
    /// label) is what error messages call it.
    ///
    /// Columns are found by header name, in any order, matched without
    /// regard to ASCII case; unknown columns are ignored. Surrounding
    /// whitespace is trimmed from every cell. Each row gives one instance
    /// type, one on-demand offering and, when `spot_usd_hour` is set, one
    /// spot offering, both with `zone: None`, in file order.
    ///
    /// ```
    /// use sched_core::Catalog;
    ///
    /// let csv = "instance_type,vcpus,memory_gib,arch,ondemand_usd_hour,spot_usd_hour,region\n\
    ///            m6i.large,2,8.0,amd64,0.096,0.03552,us-east-1\n";
    /// let catalog = Catalog::from_csv_reader(csv.as_bytes(), "inline").unwrap();
    /// assert_eq!(catalog.types()[0].memory_mib, 8192);
    /// assert_eq!(catalog.offerings().len(), 2);
    /// ```
    ///
    /// # Errors
    /// Malformed CSV, an empty input or one with only a header, a missing
    /// required column, an invalid cell (see [`FieldProblem`]), a repeated
    /// instance type, or rows naming different regions.
    pub fn from_csv_reader<R: Read>(reader: R, source_name: &str) -> Result<Catalog, CatalogError> {
        let mut csv =
            csv::ReaderBuilder::new().has_headers(true).trim(csv::Trim::All).from_reader(reader);

        // Header: present, with every required column exactly once.
        let header = csv.headers().map_err(|e| csv_error(source_name, e))?.clone();
        if header.is_empty() {
            return Err(CatalogError::EmptyFile { source_name: source_name.to_owned() });
        }
        let columns = ColumnMap::from_header(&header, source_name)?;

        // Rows: each validated on its own, then checked against the ones before.
        let mut types: Vec<InstanceType> = Vec::new();
        let mut offerings: Vec<Offering> = Vec::new();
        let mut first_line_of: HashMap<String, u64> = HashMap::new();
        let mut region: Option<(String, u64)> = None;
        let mut spot_above_on_demand = 0_usize;
        let mut record = csv::StringRecord::new();
        while csv.read_record(&mut record).map_err(|e| csv_error(source_name, e))? {
            let line = record.position().map_or(0, csv::Position::line);
            let row = Row { record: &record, columns: &columns, source_name, line };
            let parsed = parse_row(&row)?;

            match &region {
                None => region = Some((parsed.region.clone(), line)),
                Some((first_region, first_line)) if *first_region != parsed.region => {
                    return Err(CatalogError::MixedRegions {
                        source_name: source_name.to_owned(),
                        line,
                        region: parsed.region,
                        first_region: first_region.clone(),
                        first_line: *first_line,
                    });
                }
                Some(_) => {}
            }
            // Type names are case-insensitive (AWS spells them in lower
            // case, and allow-lists are matched in lower case).
            let name = &parsed.instance_type.name;
            let key = name.to_ascii_lowercase();
            if let Some(&first_line) = first_line_of.get(&key) {
                return Err(CatalogError::DuplicateTypeRow {
                    source_name: source_name.to_owned(),
                    name: name.clone(),
                    first_line,
                    line,
                });
            }
            first_line_of.insert(key, line);

            let type_id = InstanceTypeId(types.len() as u32);
            offerings.push(Offering {
                id: OfferingId(0),
                instance_type: type_id,
                capacity_type: CapacityType::OnDemand,
                zone: None,
                price: UsdPerHour(parsed.on_demand),
                interruption: None,
            });
            if let Some((price, interruption)) = parsed.spot {
                if price > parsed.on_demand {
                    // Allowed: the spot column is an estimate and may lag the
                    // on-demand price; the solver simply prefers on demand then.
                    spot_above_on_demand += 1;
                    tracing::trace!(instance_type = %name, line, "spot price above on demand");
                }
                offerings.push(Offering {
                    id: OfferingId(0),
                    instance_type: type_id,
                    capacity_type: CapacityType::Spot,
                    zone: None,
                    price: UsdPerHour(price),
                    interruption,
                });
            }
            types.push(parsed.instance_type);
        }

        // Assemble; `Catalog::new` numbers the offerings.
        let Some((region, _)) = region else {
            return Err(CatalogError::NoRows { source_name: source_name.to_owned() });
        };
        let catalog = Catalog::new(region, types, offerings)?;
        tracing::debug!(
            source = source_name,
            region = %catalog.region,
            types = catalog.types().len(),
            offerings = catalog.offerings().len(),
            spot_above_on_demand,
            "catalog loaded"
        );
        Ok(catalog)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_discriminants_index_all() {
        for (index, column) in Column::ALL.iter().enumerate() {
            assert_eq!(*column as usize, index);
        }
    }

    #[test]
    fn counts_accept_whole_numbers_only() {
        assert_eq!(parse_count("4"), Ok(4));
        assert_eq!(parse_count("4.0"), Ok(4));
        assert_eq!(parse_count("-0"), Ok(0));
        assert_eq!(parse_count("4.5"), Err(FieldProblem::NotWhole));
        assert_eq!(parse_count("-1"), Err(FieldProblem::Negative));
        assert_eq!(parse_count("1e12"), Err(FieldProblem::TooLarge));
        assert_eq!(parse_count("four"), Err(FieldProblem::NotANumber));
        assert_eq!(parse_count("NaN"), Err(FieldProblem::NotFinite));
    }

    #[test]
    fn vcpus_must_be_positive() {
        assert_eq!(parse_vcpus("0"), Err(FieldProblem::NotPositive));
        assert_eq!(parse_vcpus("-2"), Err(FieldProblem::NotPositive));
        assert_eq!(parse_vcpus("192"), Ok(192));
        // Regression: u32::MAX was read as a real count while 1e20 was too large.
        assert_eq!(parse_vcpus("4294967295"), Err(FieldProblem::TooLarge));
        assert_eq!(parse_vcpus("1e20"), Err(FieldProblem::TooLarge));
        assert_eq!(parse_vcpus("65536"), Ok(65_536));
    }

    #[test]
    fn memory_rounds_to_the_nearest_mib() {
        assert_eq!(parse_memory_mib("8.0"), Ok(8192));
        assert_eq!(parse_memory_mib("1.699"), Ok(1740));
        assert_eq!(parse_memory_mib("0.612"), Ok(627));
        assert_eq!(parse_memory_mib("68.399"), Ok(70041));
        assert_eq!(parse_memory_mib("0.0001"), Err(FieldProblem::RoundsToZero));
        assert_eq!(parse_memory_mib("0"), Err(FieldProblem::NotPositive));
        assert_eq!(parse_memory_mib("-0.0"), Err(FieldProblem::NotPositive));
        assert_eq!(parse_memory_mib("inf"), Err(FieldProblem::NotFinite));
        assert_eq!(parse_memory_mib("1e300"), Err(FieldProblem::TooLarge));
    }

    #[test]
    fn prices_must_be_finite_and_positive() {
        assert_eq!(parse_price("0.096"), Ok(0.096));
        assert_eq!(parse_price("0"), Err(FieldProblem::NotPositive));
        assert_eq!(parse_price("-0.5"), Err(FieldProblem::NotPositive));
        assert_eq!(parse_price("nan"), Err(FieldProblem::NotFinite));
        assert_eq!(parse_price("-inf"), Err(FieldProblem::NotFinite));
        assert_eq!(parse_price("$1"), Err(FieldProblem::NotANumber));
        // Regression: the smallest double was taken as a price.
        assert_eq!(parse_price("5e-324"), Err(FieldProblem::AbsurdlyCheap));
        assert_eq!(parse_price("0.0011"), Ok(0.0011));
    }

    #[test]
    fn buckets_stay_in_range() {
        assert_eq!(parse_bucket("0"), Ok(InterruptionBucket(0)));
        assert_eq!(parse_bucket("4"), Ok(InterruptionBucket(4)));
        assert_eq!(parse_bucket("5"), Err(FieldProblem::BucketOutOfRange));
        assert_eq!(parse_bucket("-1"), Err(FieldProblem::BucketOutOfRange));
        assert_eq!(parse_bucket("1.5"), Err(FieldProblem::NotWhole));
    }

    #[test]
    fn shown_values_are_escaped_and_cut() {
        assert_eq!(shown("a\tb"), "a\\tb");
        let long = "é".repeat(100);
        assert_eq!(shown(&long), format!("{}...", "é".repeat(SHOWN_VALUE_CHARS)));
    }

    #[test]
    fn names_refuse_whitespace() {
        assert_eq!(parse_name("m6i.large"), Ok("m6i.large".to_owned()));
        assert_eq!(parse_name("m6i large"), Err(FieldProblem::BadName));
        assert_eq!(parse_name("m6i\u{7}"), Err(FieldProblem::BadName));
    }
}
