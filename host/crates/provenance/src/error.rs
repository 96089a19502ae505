//! Any refusal of this crate, as one type.

use crate::declaration::DeclarationError;
use crate::layout::LayoutError;
use crate::metadata::MetadataError;
use crate::plugin::SignatureRefusal;
use crate::signature::{KeyError, SignatureError};
use crate::trust::TrustError;

/// Any refusal of this crate, for callers that handle them alike.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Layout(#[from] LayoutError),
    #[error(transparent)]
    Signature(#[from] SignatureError),
    #[error(transparent)]
    Refused(#[from] SignatureRefusal),
    #[error(transparent)]
    Declaration(#[from] DeclarationError),
    #[error(transparent)]
    Metadata(#[from] MetadataError),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Trust(#[from] TrustError),
}
