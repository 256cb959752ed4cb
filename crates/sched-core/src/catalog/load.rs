//! Loading a catalog from the bundled CSV format.
// PLACEHOLDER: the loader and its validation are being written.

use thiserror::Error;

/// Why a catalog could not be built.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum CatalogError {
    /// Two rows describe the same instance type.
    #[error("duplicate instance type `{name}`")]
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
}
