//! Networks, network ACLs, network forwards and profiles against a real LXD. Bridges have no
//! addresses (`ipv4.address=none`, `ipv6.address=none`): nothing leaves the machine.

use std::collections::BTreeMap;

use lxd_client::proto::{
    NetworkAclRule, NetworkAclRuleAction, NetworkAclRuleState, NetworkAclsPost,
    NetworkForwardsPost, NetworkStatus, NetworkType, NetworksPost, ProfilesPost,
};
use lxd_integration::{require, unique};

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Serialises the tests that create or delete networks: LXD 5.0.2 fails an ACL change with
/// "Failed getting ACL network usage: ... Network not found" when a network is deleted while
/// it scans them (seen when these tests ran in parallel).
static NETWORKS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A bridge name: bridges are interfaces, at most 15 characters.
fn bridge_name() -> String {
    let name = unique("lx");
    assert!(name.len() <= 15, "{name}");
    name
}

fn addressless_bridge(name: &str) -> NetworksPost {
    NetworksPost {
        name: name.to_string(),
        network_type: Some(NetworkType::Bridge),
        description: "lxd-rs test bridge".into(),
        config: map(&[("ipv4.address", "none"), ("ipv6.address", "none")]),
        ..Default::default()
    }
}

#[tokio::test]
async fn bridge_lifecycle_with_etags_state_leases_rename_and_delete() {
    let env = require!();
    let _serial = NETWORKS.lock().await;
    let networks = env.client().networks();
    let name = bridge_name();
    networks.create(&addressless_bridge(&name)).await.unwrap();

    assert!(networks.list_names().await.unwrap().contains(&name));
    let listed = networks.list().await.unwrap();
    let mine = listed.iter().find(|n| n.name == name).expect("listed");
    assert!(mine.managed);
    assert_eq!(mine.network_type, NetworkType::Bridge);
    assert_eq!(mine.status, NetworkStatus::Created);
    assert!(networks.exists(&name).await.unwrap());
    assert!(!networks.exists(&bridge_name()).await.unwrap());

    // PUT with the ETag it was read with.
    let read = networks.get_with_etag(&name).await.unwrap();
    let stale = read.etag.clone().expect("LXD sends an ETag for networks");
    assert_eq!(read.description, "lxd-rs test bridge");
    let mut put = read.writable();
    put.description = "edited".into();
    put.config.insert("bridge.mtu".into(), "1400".into());
    networks
        .update(&name, &put, read.etag.as_ref())
        .await
        .unwrap();
    let after = networks.get(&name).await.unwrap();
    assert_eq!(after.description, "edited");
    assert_eq!(after.config["bridge.mtu"], "1400");
    assert_eq!(after.config["ipv4.address"], "none");

    // The old ETag no longer matches: LXD's 412, and nothing changes.
    put.description = "lost update".into();
    let err = networks
        .update(&name, &put, Some(&stale))
        .await
        .unwrap_err();
    assert!(err.is_precondition_failed(), "{err:?}");
    let err = networks
        .patch(
            &name,
            &serde_json::json!({"description": "x"}),
            Some(&stale),
        )
        .await
        .unwrap_err();
    assert!(err.is_precondition_failed(), "{err:?}");
    assert_eq!(networks.get(&name).await.unwrap().description, "edited");

    // PATCH merges config keys. (LXD 5.0 resets a network's description when the body
    // leaves it out, so it is sent along.)
    let fresh = networks.get_with_etag(&name).await.unwrap();
    networks
        .patch(
            &name,
            &serde_json::json!({"description": "edited", "config": {"user.owner": "lxd-rs"}}),
            fresh.etag.as_ref(),
        )
        .await
        .unwrap();
    let patched = networks.get(&name).await.unwrap();
    assert_eq!(patched.config["user.owner"], "lxd-rs");
    assert_eq!(patched.config["bridge.mtu"], "1400");
    assert_eq!(patched.description, "edited");

    let state = networks.state(&name).await.unwrap();
    assert!(state.bridge.is_some(), "{state:?}");
    assert_eq!(state.mtu, 1400);
    assert_eq!(state.hwaddr.len(), 17, "{state:?}");
    assert!(
        state.addresses.iter().all(|a| a.scope == "link"),
        "an addressless bridge has at most link-local addresses: {state:?}"
    );
    assert!(networks.leases(&name).await.unwrap().is_empty());

    let renamed = bridge_name();
    networks.rename(&name, &renamed).await.unwrap();
    assert!(!networks.exists(&name).await.unwrap());
    assert_eq!(networks.get(&renamed).await.unwrap().description, "edited");

    networks.delete(&renamed).await.unwrap();
    assert!(networks.get(&renamed).await.unwrap_err().is_not_found());
}

#[tokio::test]
async fn unmanaged_interfaces_are_listed_without_state_changes() {
    let env = require!();
    let networks = env.client().networks();
    let all = networks.list().await.unwrap();
    let lo = all.iter().find(|n| n.name == "lo");
    // LXD lists host interfaces; loopback is always there, unmanaged.
    let lo = lo.unwrap_or_else(|| panic!("no lo in {all:?}"));
    assert!(!lo.managed);
    assert_eq!(lo.network_type, NetworkType::Loopback);
    let state = networks.state("lo").await.unwrap();
    assert!(state.addresses.iter().any(|a| a.address == "127.0.0.1"));
}

#[tokio::test]
async fn bad_network_input_fails_with_clear_errors() {
    let env = require!();
    let _serial = NETWORKS.lock().await;
    let networks = env.client().networks();

    // Refused before any request.
    for bad in ["", "a/b", "a:b", ".."] {
        let err = networks.get(bad).await.unwrap_err();
        assert!(err.is_invalid_input(), "{bad:?}: {err:?}");
    }
    let err = networks
        .create(&NetworksPost {
            name: "x?y".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(err.is_invalid_input(), "{err:?}");

    // LXD's own refusals, with its message.
    let name = bridge_name();
    networks.create(&addressless_bridge(&name)).await.unwrap();
    let err = networks
        .create(&addressless_bridge(&name))
        .await
        .unwrap_err();
    assert!(
        err.lxd_message().unwrap().contains("already exists"),
        "{err:?}"
    );

    let mut unknown = addressless_bridge(&bridge_name());
    unknown.network_type = Some(NetworkType::Other("no-such-type".into()));
    let err = networks.create(&unknown).await.unwrap_err();
    assert!(err.is_bad_request(), "{err:?}");
    assert!(
        err.lxd_message().unwrap().contains("Unknown driver"),
        "{err:?}"
    );

    let err = networks
        .create(&addressless_bridge("lxd-rs-name-too-long"))
        .await
        .unwrap_err();
    assert!(err.is_bad_request(), "{err:?}");
    assert!(err.lxd_message().unwrap().contains("too long"), "{err:?}");

    let mut bad_config = addressless_bridge(&bridge_name());
    bad_config.config.insert("no.such.key".into(), "1".into());
    let err = networks.create(&bad_config).await.unwrap_err();
    assert!(
        err.lxd_message().unwrap().contains("no.such.key"),
        "{err:?}"
    );

    // In use by a profile: LXD refuses to delete it.
    let profiles = env.client().profiles();
    let profile = unique("it-netuser");
    profiles
        .create(&ProfilesPost {
            name: profile.clone(),
            devices: [(
                "eth0".to_string(),
                map(&[("type", "nic"), ("network", &name), ("name", "eth0")]),
            )]
            .into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let used_by = networks.get(&name).await.unwrap().used_by;
    assert!(used_by.iter().any(|u| u.contains(&profile)), "{used_by:?}");
    let err = networks.delete(&name).await.unwrap_err();
    assert!(err.lxd_message().unwrap().contains("in use"), "{err:?}");
    assert!(networks.exists(&name).await.unwrap());

    profiles.delete(&profile).await.unwrap();
    networks.delete(&name).await.unwrap();
    let err = networks.delete(&name).await.unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
}

/// Deletes a bridge that applies an ACL. LXD 5.0.2 on iptables-nft 1.8.9 (Debian 12, kernel
/// 6.18) removes the ACL's chain before the rules that jump to it, so the first delete fails
/// with iptables' "CHAIN_DEL failed (Device or resource busy)" (`lxc network delete` fails
/// the same way); a second delete succeeds but leaves the chain and its jump rules behind.
/// Only that failure is accepted, only from LXD; the leftover rules are removed here.
async fn delete_bridge_with_acl(
    env: &lxd_integration::Env,
    client: &lxd_client::Client,
    bridge: &str,
) {
    let networks = client.networks();
    let Err(err) = networks.delete(bridge).await else {
        return;
    };
    let message = err.lxd_message().unwrap_or_default().to_string();
    assert!(
        !env.is_incus() && message.contains("CHAIN_DEL failed (Device or resource busy)"),
        "{err:?}"
    );
    eprintln!("LXD's known firewall defect on deleting {bridge}: {message}");
    networks.delete(bridge).await.unwrap();
    assert!(!networks.exists(bridge).await.unwrap());
    remove_leftover_iptables_chain(&format!("lxd_acl_{bridge}"));
}

/// Removes an iptables chain of the filter table and the rules that jump to it.
fn remove_leftover_iptables_chain(chain: &str) {
    let iptables = |args: &[&str]| std::process::Command::new("iptables").args(args).output();
    let Ok(listed) = iptables(&["-t", "filter", "-S"]) else {
        return;
    };
    for rule in String::from_utf8_lossy(&listed.stdout).lines() {
        if let Some(spec) = rule.strip_prefix("-A ")
            && rule.contains(&format!("-j {chain}"))
        {
            let mut args = vec!["-t", "filter", "-D"];
            // The rule as listed, words split as iptables printed them (the comment is
            // quoted: keep it one argument).
            let mut words: Vec<String> = Vec::new();
            let mut quoted: Option<String> = None;
            for word in spec.split(' ') {
                match quoted.as_mut() {
                    Some(text) => {
                        text.push(' ');
                        text.push_str(word.trim_end_matches('"'));
                        if word.ends_with('"') {
                            words.push(quoted.take().unwrap());
                        }
                    }
                    None if word.starts_with('"') && !(word.len() > 1 && word.ends_with('"')) => {
                        quoted = Some(word.trim_start_matches('"').to_string());
                    }
                    None => words.push(word.trim_matches('"').to_string()),
                }
            }
            args.extend(words.iter().map(String::as_str));
            let _ = iptables(&args);
        }
    }
    let _ = iptables(&["-t", "filter", "-F", chain]);
    let _ = iptables(&["-t", "filter", "-X", chain]);
}

fn ssh_rule() -> NetworkAclRule {
    NetworkAclRule {
        action: NetworkAclRuleAction::Allow,
        source: "192.0.2.0/24".into(),
        protocol: "tcp".into(),
        destination_port: "22".into(),
        description: "ssh".into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn network_acl_lifecycle_in_use_and_rename() {
    let env = require!();
    let _serial = NETWORKS.lock().await;
    let client = env.client();
    let acls = client.network_acls();
    let name = unique("it-acl");
    acls.create(&NetworkAclsPost {
        name: name.clone(),
        description: "lxd-rs test".into(),
        ingress: vec![ssh_rule()],
        config: map(&[("user.a", "1")]),
        ..Default::default()
    })
    .await
    .unwrap();

    assert!(acls.list_names().await.unwrap().contains(&name));
    let listed = acls.list().await.unwrap();
    let mine = listed.iter().find(|a| a.name == name).expect("listed");
    assert_eq!(mine.ingress, vec![ssh_rule()]);
    assert!(mine.egress.is_empty());
    assert!(acls.exists(&name).await.unwrap());

    // PUT with the ETag: replace the rule lists.
    let read = acls.get_with_etag(&name).await.unwrap();
    let stale = read.etag.clone().expect("LXD sends an ETag for ACLs");
    let mut put = read.writable();
    put.egress = vec![NetworkAclRule {
        action: NetworkAclRuleAction::Reject,
        destination: "198.51.100.0/24".into(),
        state: NetworkAclRuleState::Logged,
        ..Default::default()
    }];
    acls.update(&name, &put, read.etag.as_ref()).await.unwrap();
    let after = acls.get(&name).await.unwrap();
    assert_eq!(after.egress, put.egress);
    assert_eq!(after.ingress, vec![ssh_rule()]);
    let err = acls.update(&name, &put, Some(&stale)).await.unwrap_err();
    assert!(err.is_precondition_failed(), "{err:?}");

    // PATCH merges config keys. (LXD 5.0 resets the description and the rule lists when
    // the body leaves them out, so they are sent along.)
    let mut body = serde_json::to_value(after.writable()).unwrap();
    body["config"] = serde_json::json!({"user.k": "v"});
    acls.patch(&name, &body, None).await.unwrap();
    let patched = acls.get(&name).await.unwrap();
    assert_eq!(patched.config, map(&[("user.a", "1"), ("user.k", "v")]));
    assert_eq!(patched.egress, put.egress);
    assert_eq!(patched.description, "lxd-rs test");

    // A bridge applying the ACL makes it "in use".
    let networks = client.networks();
    let bridge = bridge_name();
    let mut request = addressless_bridge(&bridge);
    request.config.insert("security.acls".into(), name.clone());
    networks.create(&request).await.unwrap();
    let used_by = acls.get(&name).await.unwrap().used_by;
    assert_eq!(used_by, [format!("/1.0/networks/{bridge}")]);
    let err = acls.delete(&name).await.unwrap_err();
    assert!(err.lxd_message().unwrap().contains("in use"), "{err:?}");

    // The log exists for OVN networks only on LXD 5.0: LXD says so.
    let err = acls.log(&name).await.unwrap_err();
    assert!(err.lxd_message().unwrap().contains("OVN"), "{err:?}");

    delete_bridge_with_acl(&env, &client, &bridge).await;
    let renamed = unique("it-acl2");
    acls.rename(&name, &renamed).await.unwrap();
    assert!(!acls.exists(&name).await.unwrap());
    assert_eq!(acls.get(&renamed).await.unwrap().egress, put.egress);

    // Names are host names, checked before any request.
    let err = acls.get("@internal").await.unwrap_err();
    assert!(err.is_invalid_input(), "{err:?}");
    let err = acls.rename(&renamed, "1-bad").await.unwrap_err();
    assert!(err.is_invalid_input(), "{err:?}");

    acls.delete(&renamed).await.unwrap();
    assert!(!acls.exists(&renamed).await.unwrap());
}

#[tokio::test]
async fn network_forwards_on_an_addressless_bridge() {
    let env = require!();
    let _serial = NETWORKS.lock().await;
    let networks = env.client().networks();
    let name = bridge_name();
    networks.create(&addressless_bridge(&name)).await.unwrap();
    let forwards = networks.forwards(&name);

    assert!(forwards.list_addresses().await.unwrap().is_empty());
    assert!(forwards.list().await.unwrap().is_empty());
    assert!(!forwards.exists("192.0.2.1").await.unwrap());
    let err = forwards.get("192.0.2.1").await.unwrap_err();
    assert!(err.is_not_found(), "{err:?}");

    // Checked before any request: forwards are keyed by an IP address.
    let err = forwards.get("not-an-ip").await.unwrap_err();
    assert!(err.is_invalid_input(), "{err:?}");

    // LXD 5.0.2 cannot forward on a bridge without an IPv4 subnet, and says why (the only
    // bridges tests may make here have none).
    let err = forwards
        .create(&NetworkForwardsPost {
            listen_address: "192.0.2.1".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    let message = err.lxd_message().unwrap();
    assert!(message.contains("Failed creating forward"), "{err:?}");
    assert!(forwards.list().await.unwrap().is_empty());

    networks.delete(&name).await.unwrap();
}

#[tokio::test]
async fn profile_lifecycle_with_etags_rename_and_bad_input() {
    let env = require!();
    let profiles = env.client().profiles();
    let name = unique("it-prof");
    profiles
        .create(&ProfilesPost {
            name: name.clone(),
            description: "lxd-rs test".into(),
            config: map(&[("limits.cpu", "1"), ("user.k", "v")]),
            devices: [(
                "tmp".to_string(),
                map(&[("type", "disk"), ("source", "/tmp"), ("path", "/mnt/tmp")]),
            )]
            .into(),
            ..Default::default()
        })
        .await
        .unwrap();

    assert!(profiles.list_names().await.unwrap().contains(&name));
    assert!(
        profiles
            .list_names()
            .await
            .unwrap()
            .contains(&"default".to_string())
    );
    let listed = profiles.list().await.unwrap();
    let mine = listed.iter().find(|p| p.name == name).expect("listed");
    assert_eq!(mine.config["limits.cpu"], "1");
    assert_eq!(mine.devices["tmp"]["path"], "/mnt/tmp");
    assert!(mine.used_by.is_empty());
    assert!(profiles.exists(&name).await.unwrap());

    let read = profiles.get_with_etag(&name).await.unwrap();
    let stale = read.etag.clone().expect("LXD sends an ETag for profiles");
    let mut put = read.writable();
    put.config.remove("user.k");
    put.config.insert("limits.memory".into(), "128MiB".into());
    put.devices.remove("tmp");
    profiles
        .update(&name, &put, read.etag.as_ref())
        .await
        .unwrap();
    let after = profiles.get(&name).await.unwrap();
    assert_eq!(
        after.config,
        map(&[("limits.cpu", "1"), ("limits.memory", "128MiB")])
    );
    assert!(after.devices.is_empty());
    let err = profiles
        .update(&name, &put, Some(&stale))
        .await
        .unwrap_err();
    assert!(err.is_precondition_failed(), "{err:?}");

    // PATCH merges config keys and devices.
    profiles
        .patch(
            &name,
            &serde_json::json!({"config": {"user.extra": "1"},
                "devices": {"t2": {"type": "disk", "source": "/tmp", "path": "/mnt/t2"}}}),
            None,
        )
        .await
        .unwrap();
    let patched = profiles.get(&name).await.unwrap();
    assert_eq!(patched.config["limits.memory"], "128MiB");
    assert_eq!(patched.config["user.extra"], "1");
    assert_eq!(patched.devices["t2"]["path"], "/mnt/t2");

    // Bad input: refused before the request, or by LXD with its message.
    let err = profiles.get("a/b").await.unwrap_err();
    assert!(err.is_invalid_input(), "{err:?}");
    let err = profiles
        .create(&ProfilesPost {
            name: name.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(
        err.lxd_message().unwrap().contains("already exists"),
        "{err:?}"
    );
    let err = profiles
        .create(&ProfilesPost {
            name: unique("it-prof-bad"),
            config: map(&[("no.such.key", "1")]),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(err.is_bad_request(), "{err:?}");
    assert!(
        err.lxd_message().unwrap().contains("no.such.key"),
        "{err:?}"
    );
    let err = profiles.rename("default", &unique("x")).await.unwrap_err();
    assert!(err.lxd_message().unwrap().contains("default"), "{err:?}");

    let renamed = unique("it-prof2");
    profiles.rename(&name, &renamed).await.unwrap();
    assert!(!profiles.exists(&name).await.unwrap());
    assert_eq!(
        profiles.get(&renamed).await.unwrap().config["user.extra"],
        "1"
    );
    profiles.delete(&renamed).await.unwrap();
    assert!(profiles.get(&renamed).await.unwrap_err().is_not_found());
}
