//! The `org-catalog` Lambda function: the org-scoped catalog under
//! `/api/orgs/{org_id}/plugins`, the system catalog under `/api/system/plugins`,
//! and the administration of orgs, members and permissions.

use registry_http::routes::org_catalog_routes;
use registry_lambda::runtime::run_function;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    run_function(org_catalog_routes).await
}
