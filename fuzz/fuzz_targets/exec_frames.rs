//! What an exec or console websocket delivers to the client: the bytes are the server's side
//! of the connection (frames as the client's websocket reads them: binary output, the text
//! end-of-stream marker, close frames, pings, and garbage); text messages are also decoded as
//! the control channel's messages, and the whole input as exec operation metadata.
#![no_main]

use std::io::{Cursor, Read, Write};

use libfuzzer_sys::fuzz_target;
use lxd_proto::{ExecOperationMetadata, InstanceConsoleControl, InstanceExecControl};
use tungstenite::Message;
use tungstenite::protocol::{Role, WebSocket};

/// The server's bytes to read; what the client writes goes nowhere.
struct Peer(Cursor<Vec<u8>>);

impl Read for Peer {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}

impl Write for Peer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fuzz_target!(|data: &[u8]| {
    let _ = serde_json::from_slice::<ExecOperationMetadata>(data);
    let mut ws = WebSocket::from_raw_socket(Peer(Cursor::new(data.to_vec())), Role::Client, None);
    // Every read consumes input or fails: bounded by the input's length.
    for _ in 0..=data.len() {
        match ws.read() {
            Ok(Message::Text(text)) => {
                let _ = serde_json::from_str::<InstanceExecControl>(text.as_str());
                let _ = serde_json::from_str::<InstanceConsoleControl>(text.as_str());
            }
            Ok(Message::Binary(bytes)) => {
                let _ = bytes.len();
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
});
