//! Shared state of the routes.

use std::sync::Arc;

use registry_core::Registry;

/// What every handler can reach.
pub struct AppState {
    /// The registry services.
    pub registry: Arc<Registry>,
}
