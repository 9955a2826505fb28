//! Virtual machines cannot run on these machines (no vhost_vsock), so the typed managers'
//! VM side is proven against `lxd-testkit`: the create request's type and the type filters
//! of `containers()` and `virtual_machines()`.

use lxd_client::Client;
use lxd_client::proto::{InstanceSource, InstanceType, InstancesPost};
use lxd_testkit::ServerFlavor;

#[macro_use]
mod support;

fn request(name: &str) -> InstancesPost {
    InstancesPost {
        name: name.into(),
        source: InstanceSource::image_alias("busybox"),
        ..Default::default()
    }
}

async fn testkit_vm_create_sets_the_type_and_filters_separate_the_kinds(flavor: ServerFlavor) {
    let server = support::start(flavor).await;
    let client = Client::unix(server.socket_path()).unwrap();
    client
        .virtual_machines()
        .create(&request("vm1"))
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    client
        .containers()
        .create(&request("ct1"))
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();

    let vm = client.instances().get("vm1").await.unwrap();
    assert_eq!(vm.instance_type, InstanceType::VirtualMachine);
    let ct = client.instances().get("ct1").await.unwrap();
    assert_eq!(ct.instance_type, InstanceType::Container);

    let vms: Vec<String> = client
        .virtual_machines()
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.name)
        .collect();
    assert_eq!(vms, vec!["vm1".to_string()]);
    let cts: Vec<String> = client
        .containers()
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.name)
        .collect();
    assert_eq!(cts, vec!["ct1".to_string()]);
    assert_eq!(client.instances().list().await.unwrap().len(), 2);

    // The typed managers do not hand out the other kind.
    let err = client.containers().get("vm1").await.unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
}

each_flavor!(testkit_vm_create_sets_the_type_and_filters_separate_the_kinds,);
