//! Bounded property tests of decoding: envelopes, operations, events, instances, exec and
//! console control messages and file headers are fed random bytes, mutated real replies
//! (byte level) and structurally mutated real replies (a random node replaced by a value of
//! any type, keys kept so typed fields see wrong types). Decoding must never panic; what
//! decodes must format with `Debug`, re-encode, and decode again.
//!
//! The same inputs run longer under `cargo fuzz` (see `fuzz/`). The generator is a seeded
//! xorshift: a failure prints its seed and case; `LXD_PROPTEST_SEED=<n>` replays it and
//! `LXD_PROPTEST_CASES=<n>` changes the number of cases per type.

use std::fmt::Debug;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};

use lxd_proto::*;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Number, Value};

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Tokens that stress a JSON decoder and the types behind it.
const TOKENS: &[&str] = &[
    "null",
    "true",
    "false",
    "0",
    "-1",
    "-0",
    "1e400",
    "-1e400",
    "18446744073709551616",
    "-9223372036854775809",
    "4294967296",
    "1.5",
    "\"\"",
    "\"\\u0000\"",
    "\"\\ud800\"",
    "\"\u{1F600}\"",
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "\"",
    "\\",
    "{}",
    "[]",
    "\"Success\"",
    "\"Running\"",
    "\"async\"",
    "\"error\"",
    "\"lifecycle\"",
    "\"operation\"",
    "\"logging\"",
    "\"container\"",
    "\"virtual-machine\"",
];

/// Strings typed fields may meet (status names, types, secrets, odd text).
const STRINGS: &[&str] = &[
    "",
    "Success",
    "Failure",
    "Cancelled",
    "Running",
    "Pending",
    "sync",
    "async",
    "error",
    "task",
    "websocket",
    "token",
    "lifecycle",
    "operation",
    "logging",
    "container",
    "virtual-machine",
    "instance-created",
    "file",
    "directory",
    "symlink",
    "window-resize",
    "signal",
    "0644",
    "-1",
    "\u{0}",
    "ünïcødé",
    "/1.0/instances/c1?project=p",
    "2026-01-01T00:00:00Z",
    "not a date",
    // Progress texts: digits and `%` after multibyte characters (progress() once panicked
    // on "é5%").
    "é5%",
    "rootfs: 45% (1.2MB/s)",
    "下载中99%",
    "100%",
    "%",
];

fn random_number(rng: &mut Rng) -> Value {
    match rng.below(6) {
        0 => Value::from(rng.next() as i64),
        1 => Value::from(rng.next()),
        2 => Value::from(rng.below(600) as i64 - 100),
        3 => Number::from_f64((rng.next() as f64) / 7.0)
            .map(Value::Number)
            .unwrap_or(Value::Null),
        4 => Value::from(u64::MAX),
        _ => Value::from(i64::MIN),
    }
}

fn random_string(rng: &mut Rng) -> String {
    if rng.chance(2) {
        return rng.pick(STRINGS).to_string();
    }
    let len = rng.below(12);
    (0..len)
        .map(|_| match rng.below(6) {
            0 => char::from_u32(rng.below(0x80) as u32).unwrap_or('x'),
            1 => char::from_u32(rng.below(0x11_0000) as u32).unwrap_or('\u{fffd}'),
            // Digits and `%`, so progress texts ("NN%") are formed often.
            2 => char::from(b'0' + rng.below(10) as u8),
            3 if rng.chance(2) => '%',
            _ => char::from(b'a' + rng.below(26) as u8),
        })
        .collect()
}

/// A random JSON value; objects use `keys` (the fixtures' keys) most of the time.
fn random_value(rng: &mut Rng, keys: &[String], depth: usize) -> Value {
    let leaf = depth == 0 || rng.chance(3);
    match rng.below(if leaf { 4 } else { 6 }) {
        0 => Value::Null,
        1 => Value::Bool(rng.chance(2)),
        2 => random_number(rng),
        3 => Value::String(random_string(rng)),
        4 => Value::Array(
            (0..rng.below(4))
                .map(|_| random_value(rng, keys, depth - 1))
                .collect(),
        ),
        _ => {
            let mut map = Map::new();
            for _ in 0..rng.below(6) {
                let key = if rng.chance(4) || keys.is_empty() {
                    random_string(rng)
                } else {
                    rng.pick(keys).clone()
                };
                map.insert(key, random_value(rng, keys, depth - 1));
            }
            Value::Object(map)
        }
    }
}

/// Every object key in `value`.
fn collect_keys(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                out.push(k.clone());
                collect_keys(v, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_keys(v, out)),
        _ => {}
    }
}

fn count_nodes(value: &Value) -> usize {
    1 + match value {
        Value::Object(map) => map.values().map(count_nodes).sum(),
        Value::Array(items) => items.iter().map(count_nodes).sum(),
        _ => 0,
    }
}

/// Replaces the `target`-th node (pre-order) of `value` by `with`, or removes it from its
/// parent object when `with` is `None`.
fn replace_node(value: &mut Value, target: &mut usize, with: &mut Option<Value>) -> bool {
    if *target == 0 {
        *value = with.take().unwrap_or(Value::Null);
        return true;
    }
    *target -= 1;
    match value {
        Value::Object(map) => {
            let keys: Vec<String> = map.keys().cloned().collect();
            for k in keys {
                if *target == 0 && with.is_none() {
                    map.remove(&k);
                    return true;
                }
                if replace_node(map.get_mut(&k).expect("key"), target, with) {
                    return true;
                }
            }
            false
        }
        Value::Array(items) => items.iter_mut().any(|v| replace_node(v, target, with)),
        _ => false,
    }
}

/// A real reply with one to three nodes replaced by random values or removed.
fn mutate_value(rng: &mut Rng, seed: &Value, keys: &[String]) -> Value {
    let mut value = seed.clone();
    for _ in 0..1 + rng.below(3) {
        let mut target = rng.below(count_nodes(&value));
        let mut with = (!rng.chance(5)).then(|| random_value(rng, keys, 3));
        replace_node(&mut value, &mut target, &mut with);
    }
    value
}

/// A real reply's bytes, flipped, cut, spliced or with tokens inserted.
fn mutate_bytes(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut bytes = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(bytes.len() + 1);
        match rng.below(6) {
            0 if !bytes.is_empty() => {
                let i = at.min(bytes.len() - 1);
                bytes[i] ^= 1 << rng.below(8);
            }
            1 => bytes.truncate(at),
            2 => {
                let end = (at + rng.below(32)).min(bytes.len());
                bytes.drain(at..end);
            }
            3 => {
                let token = rng.pick(TOKENS).as_bytes();
                bytes.splice(at..at, token.iter().copied());
            }
            4 if !bytes.is_empty() => {
                let from = rng.below(bytes.len());
                let end = (from + rng.below(64)).min(bytes.len());
                let piece = bytes[from..end].to_vec();
                bytes.splice(at..at, piece);
            }
            _ => bytes.insert(at.min(bytes.len()), rng.next() as u8),
        }
    }
    bytes
}

fn random_bytes(rng: &mut Rng) -> Vec<u8> {
    let len = rng.below(64);
    (0..len)
        .map(|_| {
            if rng.chance(2) {
                *rng.pick(b"{}[]\":,0123456789.-etrufalsn \\")
            } else {
                rng.next() as u8
            }
        })
        .collect()
}

/// What decodes must survive `Debug`, encoding, and decoding again.
fn decoded_ok<T: DeserializeOwned + Serialize + Debug>(value: T) {
    let _ = format!("{value:?}");
    let encoded = serde_json::to_vec(&value).expect("what decoded encodes");
    if let Err(e) = serde_json::from_slice::<T>(&encoded) {
        panic!(
            "re-encoded value does not decode: {e}: {}",
            String::from_utf8_lossy(&encoded)
        );
    }
}

fn seed() -> u64 {
    std::env::var("LXD_PROPTEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_1d0c_2026)
}

fn cases(default: usize) -> usize {
    std::env::var("LXD_PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let bytes = std::fs::read(&path).unwrap_or_else(|err| panic!("{path}: {err}"));
    serde_json::from_slice(&bytes).unwrap_or_else(|err| panic!("{path}: {err}"))
}

/// Runs `n` cases against `T` seeded by `seeds`; returns how many inputs ran.
fn run<T: DeserializeOwned + Serialize + Debug>(what: &str, seeds: &[Value], n: usize) -> usize {
    run_then::<T>(what, seeds, n, |_| {})
}

/// [`run`], and `then` on every value that decoded (the client's next step with it).
fn run_then<T: DeserializeOwned + Serialize + Debug>(
    what: &str,
    seeds: &[Value],
    n: usize,
    then: impl Fn(&T),
) -> usize {
    let decoded_ok = |value: T| {
        then(&value);
        decoded_ok(value);
    };
    let mut rng = Rng::new(
        seed()
            ^ what
                .bytes()
                .fold(0u64, |h, b| h.rotate_left(5) ^ u64::from(b)),
    );
    let mut keys = Vec::new();
    seeds.iter().for_each(|s| collect_keys(s, &mut keys));
    keys.sort();
    keys.dedup();
    let seed_bytes: Vec<Vec<u8>> = seeds
        .iter()
        .map(|s| serde_json::to_vec(s).expect("encodes"))
        .collect();
    let mut decoded = 0;
    for case in 0..n {
        let result = catch_unwind(AssertUnwindSafe(|| match case % 4 {
            0 => serde_json::from_slice::<T>(&random_bytes(&mut rng))
                .map(decoded_ok)
                .is_ok(),
            1 => {
                let i = rng.below(seed_bytes.len());
                let bytes = mutate_bytes(&mut rng, &seed_bytes[i]);
                serde_json::from_slice::<T>(&bytes).map(decoded_ok).is_ok()
            }
            2 => {
                let i = rng.below(seeds.len());
                let value = mutate_value(&mut rng, &seeds[i], &keys);
                serde_json::from_value::<T>(value).map(decoded_ok).is_ok()
            }
            _ => {
                let value = random_value(&mut rng, &keys, 4);
                serde_json::from_value::<T>(value).map(decoded_ok).is_ok()
            }
        }));
        match result {
            Ok(true) => decoded += 1,
            Ok(false) => {}
            Err(panic) => {
                eprintln!(
                    "{what}: case {case} panicked; replay with LXD_PROPTEST_SEED={}",
                    seed()
                );
                resume_unwind(panic);
            }
        }
    }
    println!("{what}: {n} inputs, {decoded} decoded, seed {}", seed());
    n
}

fn envelopes(names: &[&str]) -> Vec<Value> {
    names.iter().map(|n| fixture(n)).collect()
}

fn metadata(names: &[&str]) -> Vec<Value> {
    names
        .iter()
        .map(|n| fixture(n)["metadata"].clone())
        .collect()
}

const OPERATIONS: &[&str] = &[
    "operation_running.json",
    "operation_success.json",
    "operation_failure.json",
    "operation_cancelled.json",
    "certificate_token_operation.json",
    "cluster_join_token_operation.json",
];

const EVENTS: &[&str] = &[
    "event_lifecycle_instance_created.json",
    "event_lifecycle_instance_exec.json",
    "event_logging.json",
    "event_operation.json",
    "event_lifecycle_project_renamed.json",
];

#[test]
fn envelopes_never_panic() {
    let seeds = envelopes(&[
        "response_sync.json",
        "response_async.json",
        "response_error.json",
        "operation_running.json",
    ]);
    let n = run::<Response>("Response", &seeds, cases(10_000));
    // The client's own next step: the metadata of an async reply as an operation.
    let mut rng = Rng::new(seed());
    for _ in 0..n / 4 {
        let i = rng.below(seeds.len());
        let value = mutate_value(&mut rng, &seeds[i], &[]);
        if let Ok(response) = serde_json::from_value::<Response>(value) {
            let _ = response.operation_id();
            let _ = response.metadata_as::<Operation>();
        }
    }
}

/// What the client reads from every operation it decodes.
fn use_operation(op: &Operation) {
    if let Some(progress) = op.progress() {
        assert!(progress.percent.is_none_or(|p| p <= 100), "{progress:?}");
    }
    let _ = op.websocket_secrets();
}

#[test]
fn operations_never_panic() {
    let mut seeds = metadata(OPERATIONS);
    // Both progress shapes, so mutations reach progress() parsing with any text and type.
    seeds.push(serde_json::json!({
        "id": "1", "status_code": 103,
        "metadata": {"download_progress": "rootfs: 45% (1.2MB/s)"}
    }));
    seeds.push(serde_json::json!({
        "id": "2", "status_code": 103,
        "metadata": {
            "progress": {"stage": "unpack", "percent": "7", "processed": 10, "speed": "3"},
            "unpack_progress": "Unpack: 7% (3B/s)"
        }
    }));
    run_then::<Operation>("Operation", &seeds, cases(10_000), use_operation);
}

#[test]
fn progress_of_random_text_never_panics() {
    // Any text a server may send as a `<stage>_progress` value, in both shapes.
    let mut rng = Rng::new(seed() ^ 0x9e37);
    let n = cases(20_000);
    for case in 0..n {
        let text = random_string(&mut rng);
        let result = catch_unwind(AssertUnwindSafe(|| {
            let texts = [
                // The text-only shape reports nothing for an empty text.
                (
                    serde_json::json!({"create_progress": text}),
                    !text.is_empty(),
                ),
                (
                    serde_json::json!({"progress": {"stage": "create"}, "create_progress": text}),
                    true,
                ),
            ];
            for (metadata, reported) in texts {
                let op = Operation {
                    metadata: Some(metadata),
                    ..Default::default()
                };
                let progress = op.progress();
                assert_eq!(progress.is_some(), reported, "{text:?}");
                if let Some(progress) = progress {
                    assert_eq!(progress.text, text);
                    assert!(progress.percent.is_none_or(|p| p <= 100), "{progress:?}");
                }
            }
        }));
        if let Err(panic) = result {
            eprintln!(
                "progress of {text:?} (case {case}) panicked; replay with LXD_PROPTEST_SEED={}",
                seed()
            );
            resume_unwind(panic);
        }
    }
    // The text that once panicked, whatever the generator draws.
    let op: Operation =
        serde_json::from_value(serde_json::json!({"metadata": {"x_progress": "é5%"}})).unwrap();
    assert_eq!(op.progress().unwrap().percent, Some(5));
}

#[test]
fn events_never_panic() {
    let seeds = envelopes(EVENTS);
    run::<Event>("Event", &seeds, cases(10_000));
    // An operation event's payload is an operation.
    let mut rng = Rng::new(seed());
    for _ in 0..cases(10_000) / 4 {
        let value = mutate_value(&mut rng, &seeds[3], &[]);
        if let Ok(event) = serde_json::from_value::<Event>(value) {
            let _ = format!("{:?} {:?}", event.payload, event.event_type());
        }
    }
}

#[test]
fn instances_never_panic() {
    // The biggest documents: fewer cases keep the debug build fast.
    run::<Instance>("Instance", &metadata(&["instance.json"]), cases(5_000));
    run::<InstanceFull>(
        "InstanceFull",
        &metadata(&["instance_full.json"]),
        cases(2_500),
    );
    run::<InstanceState>(
        "InstanceState",
        &metadata(&["instance_state.json", "instance_state_stopped.json"]),
        cases(5_000),
    );
}

#[test]
fn exec_and_console_messages_never_panic() {
    let exec_metadata = fixture("operation_running.json")["metadata"]["metadata"].clone();
    let exec_seeds = vec![
        exec_metadata,
        serde_json::json!({"fds": {"0": "a1", "1": "b2", "2": "c3", "control": "d4"}}),
        serde_json::json!({"return": 0}),
    ];
    run::<ExecOperationMetadata>("ExecOperationMetadata", &exec_seeds, cases(10_000));
    let control = vec![
        serde_json::to_value(InstanceExecControl::signal(15)).unwrap(),
        serde_json::to_value(InstanceExecControl::window_resize(80, 24)).unwrap(),
    ];
    run::<InstanceExecControl>("InstanceExecControl", &control, cases(10_000));
    let console =
        vec![serde_json::to_value(InstanceConsoleControl::window_resize(80, 24)).unwrap()];
    run::<InstanceConsoleControl>("InstanceConsoleControl", &console, cases(10_000));
}

#[test]
fn file_headers_never_panic() {
    // LXD's file headers as the client reads them from a reply.
    let names = [
        "uid",
        "gid",
        "mode",
        "type",
        "write",
        "modify-perm",
        "modified",
    ];
    let mut rng = Rng::new(seed());
    let n = cases(20_000);
    let mut decoded = 0;
    for case in 0..n {
        let pairs: Vec<(String, String)> = (0..rng.below(6))
            .map(|_| {
                let name = if rng.chance(6) {
                    random_string(&mut rng)
                } else {
                    rng.pick(&names).to_string()
                };
                let value = match rng.below(3) {
                    0 => (rng.next() as i64).to_string(),
                    1 => format!("{:o}", rng.below(0o20000)),
                    _ => random_string(&mut rng),
                };
                (name, value)
            })
            .collect();
        let result = catch_unwind(AssertUnwindSafe(|| {
            let headers = InstanceFileHeaders::from_pairs(
                pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            );
            if let Ok(headers) = headers {
                let _ = format!("{headers:?}");
                // What the client sends back must read the same.
                let pairs = headers.to_pairs();
                let again =
                    InstanceFileHeaders::from_pairs(pairs.iter().map(|(k, v)| (*k, v.as_str())))
                        .expect("encoded headers decode");
                // Only permission bits are sent: higher mode bits are dropped on purpose.
                let expected = InstanceFileHeaders {
                    mode: headers.mode.map(|m| m & 0o7777),
                    ..headers.clone()
                };
                assert_eq!(again, expected);
                let _ = InstanceFileStat::from_headers(&headers);
                return true;
            }
            false
        }));
        match result {
            Ok(ok) => decoded += usize::from(ok),
            Err(panic) => {
                eprintln!(
                    "file headers: case {case} panicked on {pairs:?}; seed {}",
                    seed()
                );
                resume_unwind(panic);
            }
        }
    }
    println!("InstanceFileHeaders: {n} inputs, {decoded} decoded");
}
