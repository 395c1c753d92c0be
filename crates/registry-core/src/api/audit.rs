//! The audit log's pages.

pub use crate::audit::{AuditAction, AuditDetail};
pub use crate::registry::{AuditEntry, AuditLog};
