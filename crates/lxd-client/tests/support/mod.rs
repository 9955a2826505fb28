//! What several of lxd-client's test binaries share: making busybox containers on a
//! testkit server.

use lxd_client::Client;
use lxd_client::proto::{InstanceSource, InstanceStatePut, InstancesPost};

/// The creation request of a container `name` from the `busybox` image.
pub fn busybox(name: &str) -> InstancesPost {
    InstancesPost {
        name: name.into(),
        source: InstanceSource::image_alias("busybox"),
        ..Default::default()
    }
}

/// Creates and starts `name` from `busybox`, waiting for both.
pub async fn launch(client: &Client, name: &str) {
    let instances = client.instances();
    instances
        .create(&busybox(name))
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    instances
        .set_state(name, &InstanceStatePut::start())
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
}
