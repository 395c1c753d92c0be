//! The MCP router's registration API as the client uses it: the wire types are
//! `registry_core::api::mcp_router`'s, the ones the registry answers with;
//! [`Registration`] adds what the answer's status said.

use serde::Serialize;

pub use registry_core::api::mcp_router::{
    DeregisterResponse, HealthView, InstanceMetadata, InstanceView, RegisterRequest,
    RegisterResponse, RoutingTableResponse,
};

/// The registry's answer to a registration, and whether it changed anything.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Registration {
    /// What the registry answered.
    #[serde(flatten)]
    pub answer: RegisterResponse,
    /// False when the registry already held exactly this registration (200, not 201).
    pub changed: bool,
}
