//! Reading a child's output as lines, with a cap on line length so a host that
//! prints a gigabyte without a newline cannot grow our memory.

use tokio::io::{AsyncRead, AsyncReadExt};

use crate::transport::{OutputSink, Stream};

/// Bytes kept of one line; the rest of it is dropped and marked.
pub const MAX_LINE: usize = 16 * 1024;

/// Splits `reader` into lines and hands each to `emit`, decoding invalid UTF-8
/// lossily.
pub async fn read_lines(mut reader: impl AsyncRead + Unpin, mut emit: impl FnMut(&str)) -> std::io::Result<()> {
    let mut buffer = vec![0u8; 8192];
    let mut line: Vec<u8> = Vec::new();
    let mut dropped = false;
    loop {
        let count = reader.read(&mut buffer).await?;
        if count == 0 {
            if !line.is_empty() || dropped {
                emit(&finish(&line, dropped));
            }
            return Ok(());
        }
        for &byte in &buffer[..count] {
            if byte == b'\n' {
                emit(&finish(&line, dropped));
                line.clear();
                dropped = false;
            } else if line.len() < MAX_LINE {
                line.push(byte);
            } else {
                dropped = true;
            }
        }
    }
}

fn finish(line: &[u8], dropped: bool) -> String {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let mut text = String::from_utf8_lossy(line).into_owned();
    if dropped {
        text.push_str(" [line cut]");
    }
    text
}

/// Reads stdout and stderr of a child at the same time into one sink.
///
/// # Panics
/// If a line callback panicked while holding the sink (which poisons it).
pub async fn read_both(
    stdout: impl AsyncRead + Unpin,
    stderr: impl AsyncRead + Unpin,
    sink: &mut dyn OutputSink,
) -> std::io::Result<()> {
    let sink = std::sync::Mutex::new(sink);
    let out = read_lines(stdout, |line| sink.lock().expect("not poisoned").line(Stream::Stdout, line));
    let err = read_lines(stderr, |line| sink.lock().expect("not poisoned").line(Stream::Stderr, line));
    let (out, err) = tokio::join!(out, err);
    out.and(err)
}
