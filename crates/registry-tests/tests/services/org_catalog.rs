//! The org catalog's gates and views: permission, then membership; an org's
//! own plugins beside the system's; a system plugin, off in every org until the
//! org turns it on, turned on and off by each org for itself.

use bytes::Bytes;
use registry_core::auth::Scope;
use registry_core::catalog::CatalogSource;
use registry_core::registry::{CatalogFilter, CatalogUploadBody};
use registry_testkit::TestPlugin;

use crate::{Services, refusal};

fn upload(plugin: &TestPlugin) -> CatalogUploadBody {
    CatalogUploadBody::Bundle {
        bytes: Bytes::from(plugin.bundle()),
        file_name: Some("plugin.zip".to_owned()),
    }
}

#[tokio::test]
async fn an_org_member_with_the_permission_manages_its_catalog_and_no_other() {
    let s = Services::start().await;
    let r = &s.registry;
    let admin = Some(&s.admin);
    r.create_org(admin, "acme", "Acme").await.unwrap();
    r.create_org(admin, "globex", "Globex").await.unwrap();
    let dev = s.caller("acme-dev", &[Scope::Publish]).await;

    assert_eq!(
        refusal(r.authorize_org_write(Some(&dev), "acme").await),
        "MissingPermission",
        "the permission is checked first"
    );
    r.grant_permission(admin, &dev.principal, "cadence:org:plugins:write")
        .await
        .unwrap();
    assert_eq!(
        refusal(r.authorize_org_write(Some(&dev), "acme").await),
        "NotOrgMember",
        "then membership"
    );
    r.add_org_member(admin, "acme", &dev.principal)
        .await
        .unwrap();
    assert_eq!(
        refusal(r.authorize_org_write(Some(&dev), "globex").await),
        "NotOrgMember",
        "membership is per org"
    );
    let acme = r.authorize_org_write(Some(&dev), "acme").await.unwrap();

    let crm = TestPlugin::new("crm", "1.0.0");
    assert!(
        r.upload_catalog_plugin(&acme, upload(&crm))
            .await
            .unwrap()
            .created
    );
    assert!(
        !r.upload_catalog_plugin(&acme, upload(&crm))
            .await
            .unwrap()
            .created,
        "the same ZIP again is the same row"
    );
    let system = r.authorize_system_write(admin).await.unwrap();
    let search = r
        .upload_catalog_plugin(&system, upload(&TestPlugin::new("search-tool", "1.0.0")))
        .await
        .unwrap()
        .plugin;

    let globex_reader = s.caller("globex-reader", &[Scope::Read]).await;
    r.grant_permission(admin, &globex_reader.principal, "cadence:org:plugins:read")
        .await
        .unwrap();
    r.add_org_member(admin, "globex", &globex_reader.principal)
        .await
        .unwrap();
    let view = async |caller, org: &str| {
        let reader = r.authorize_org_read(Some(caller), org).await.unwrap();
        r.list_org_plugins(&reader, &CatalogFilter::default())
            .await
            .unwrap()
            .into_iter()
            .map(|p| (p.pid.to_string(), p.source, p.enabled))
            .collect::<Vec<_>>()
    };
    let globex_writer = s.caller("globex-dev", &[Scope::Publish]).await;
    r.grant_permission(admin, &globex_writer.principal, "cadence:org:plugins:write")
        .await
        .unwrap();
    r.add_org_member(admin, "globex", &globex_writer.principal)
        .await
        .unwrap();
    let globex = r
        .authorize_org_write(Some(&globex_writer), "globex")
        .await
        .unwrap();
    let search_id = search.plugin_id.to_string();
    assert_eq!(
        view(&globex_reader, "globex").await,
        [("search-tool".to_owned(), CatalogSource::System, false)],
        "a system plugin starts off in each org"
    );
    r.set_catalog_plugin_enabled(&acme, &search_id, true)
        .await
        .unwrap();
    r.set_catalog_plugin_enabled(&globex, &search_id, true)
        .await
        .unwrap();
    r.set_catalog_plugin_enabled(&acme, &search_id, false)
        .await
        .unwrap();
    assert_eq!(
        view(&dev, "acme").await,
        [
            ("crm".to_owned(), CatalogSource::Org, true),
            ("search-tool".to_owned(), CatalogSource::System, false),
        ]
    );
    assert_eq!(
        view(&globex_reader, "globex").await,
        [("search-tool".to_owned(), CatalogSource::System, true)],
        "acme turning it off leaves globex's choice, and globex sees none of acme's plugins"
    );
}
