//! The cluster manager against `lxd-testkit`'s simulated cluster over its real unix socket:
//! bootstrap, members (list, get, patch, rename, remove), placement with `target`, and join
//! tokens. The testkit has no cluster groups and no evacuation: those are proven against the
//! real cluster only (integration/tests/cluster.rs).

use lxd_client::proto::{
    ClusterMemberJoinToken, ClusterMemberStatus, InstanceSource, InstancesPost,
};
use lxd_client::{Client, validate_cluster_member_name};
use lxd_testkit::{ServerFlavor, TestServer};

#[macro_use]
mod support;
use serde_json::json;

async fn clustered(flavor: ServerFlavor) -> (TestServer, Client) {
    let server = TestServer::builder()
        .flavor(flavor)
        .server_name("node1")
        .cluster_member("node2")
        .start()
        .await
        .unwrap();
    let client = Client::unix(server.socket_path()).unwrap();
    (server, client)
}

fn busybox(name: &str) -> InstancesPost {
    InstancesPost {
        name: name.into(),
        source: InstanceSource::image_alias("busybox"),
        ..Default::default()
    }
}

async fn members_are_listed_and_read(flavor: ServerFlavor) {
    let (_server, client) = clustered(flavor).await;
    let cluster = client.cluster();
    let info = cluster.get().await.unwrap();
    assert!(info.enabled);
    assert_eq!(info.server_name, "node1");

    let members = cluster.members();
    assert_eq!(members.list_names().await.unwrap(), ["node1", "node2"]);
    let all = members.list().await.unwrap();
    assert_eq!(all.len(), 2);
    assert!(all.iter().all(|m| m.status == ClusterMemberStatus::Online));
    let node2 = members.get_with_etag("node2").await.unwrap();
    assert_eq!(node2.server_name, "node2");
    assert!(node2.etag.is_some());
    assert!(members.exists("node2").await.unwrap());
    assert!(!members.exists("node9").await.unwrap());
    assert!(members.get("node9").await.unwrap_err().is_not_found());
}

async fn member_patch_rename_and_remove(flavor: ServerFlavor) {
    let (_server, client) = clustered(flavor).await;
    let members = client.cluster().members();
    members
        .patch("node2", &json!({"description": "rack 2"}), None)
        .await
        .unwrap();
    assert_eq!(members.get("node2").await.unwrap().description, "rack 2");
    let stale = members.get_with_etag("node2").await.unwrap();
    members
        .patch("node2", &json!({"description": "rack 3"}), None)
        .await
        .unwrap();
    let err = members
        .patch("node2", &json!({"description": "x"}), stale.etag.as_ref())
        .await
        .unwrap_err();
    assert!(err.is_precondition_failed(), "{err}");

    members.rename("node2", "node3").await.unwrap();
    assert_eq!(members.list_names().await.unwrap(), ["node1", "node3"]);

    // A member holding an instance is not removed; empty, it is.
    client
        .instances()
        .create_on("node3", &busybox("c1"))
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    assert_eq!(
        client.instances().get("c1").await.unwrap().location,
        "node3"
    );
    assert!(members.remove("node3", false).await.is_err());
    client
        .instances()
        .delete("c1")
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    members.remove("node3", false).await.unwrap();
    assert_eq!(members.list_names().await.unwrap(), ["node1"]);
    assert!(
        members
            .remove("node3", false)
            .await
            .unwrap_err()
            .is_not_found()
    );
}

async fn instances_are_placed_with_target(flavor: ServerFlavor) {
    let (_server, client) = clustered(flavor).await;
    for (name, member) in [("a1", "node1"), ("a2", "node2")] {
        client
            .instances()
            .create_on(member, &busybox(name))
            .await
            .unwrap()
            .wait()
            .await
            .unwrap();
        assert_eq!(client.instances().get(name).await.unwrap().location, member);
    }
}

async fn join_tokens_create_list_revoke(flavor: ServerFlavor) {
    let (server, client) = clustered(flavor).await;
    let cluster = client.cluster();
    let token = cluster.create_join_token("node7").await.unwrap();
    assert_eq!(token.token.server_name, "node7");
    assert_eq!(token.token.fingerprint, server.certificate_fingerprint());
    assert!(!token.token.secret.is_empty());
    assert_eq!(
        ClusterMemberJoinToken::decode(&token.encoded()).unwrap(),
        token.token
    );
    let listed = cluster.list_join_tokens().await.unwrap();
    assert_eq!(listed, std::slice::from_ref(&token));

    cluster.revoke_join_token("node7").await.unwrap();
    assert!(cluster.list_join_tokens().await.unwrap().is_empty());
    let err = cluster.revoke_join_token("node7").await.unwrap_err();
    assert!(err.is_invalid_input(), "{err}");

    let by_token = cluster.create_join_token("node8").await.unwrap();
    cluster
        .revoke_join_token(&by_token.encoded())
        .await
        .unwrap();
    let by_id = cluster.create_join_token("node9").await.unwrap();
    cluster
        .revoke_join_token_by_id(&by_id.operation_id)
        .await
        .unwrap();
    assert!(cluster.list_join_tokens().await.unwrap().is_empty());
}

async fn a_standalone_server_is_bootstrapped(flavor: ServerFlavor) {
    let server = support::start(flavor).await;
    let client = Client::unix(server.socket_path()).unwrap();
    let cluster = client.cluster();
    assert!(!cluster.get().await.unwrap().enabled);
    cluster.enable("first").await.unwrap().wait().await.unwrap();
    let info = cluster.get().await.unwrap();
    assert!(info.enabled);
    assert_eq!(info.server_name, "first");
    assert_eq!(cluster.members().list_names().await.unwrap(), ["first"]);
}

async fn bad_names_are_refused_before_any_request(flavor: ServerFlavor) {
    let (server, client) = clustered(flavor).await;
    let before = server.events().len();
    for bad in ["", "a/b", "..", "node 1", "node?x"] {
        assert!(validate_cluster_member_name(bad).is_err());
        let members = client.cluster().members();
        assert!(members.get(bad).await.unwrap_err().is_invalid_input());
        assert!(
            members
                .rename("node2", bad)
                .await
                .unwrap_err()
                .is_invalid_input()
        );
        assert!(
            members
                .remove(bad, true)
                .await
                .unwrap_err()
                .is_invalid_input()
        );
        assert!(members.evacuate(bad).await.unwrap_err().is_invalid_input());
        assert!(
            client
                .cluster()
                .create_join_token(bad)
                .await
                .unwrap_err()
                .is_invalid_input()
        );
    }
    assert_eq!(server.events().len(), before);
    assert_eq!(
        client.cluster().members().list_names().await.unwrap(),
        ["node1", "node2"]
    );
}

each_flavor!(
    members_are_listed_and_read,
    member_patch_rename_and_remove,
    instances_are_placed_with_target,
    join_tokens_create_list_revoke,
    a_standalone_server_is_bootstrapped,
    bad_names_are_refused_before_any_request,
);
