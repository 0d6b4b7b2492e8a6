//! Unpredictable values from the operating system's generator.

use std::fmt::Write;

/// 128 random bits as 32 lower-case hex digits: a per-run key that host output
/// cannot guess (step markers, here-document delimiters).
pub(crate) fn fresh() -> String {
    random_hex(16)
}

/// `bytes` random bytes from the operating system as lower-case hex (run ids,
/// nonces).
///
/// # Panics
/// If the operating system has no random source, which no supported system lacks.
pub fn random_hex(bytes: usize) -> String {
    let mut random = vec![0u8; bytes];
    getrandom::fill(&mut random).expect("the operating system provides random bytes");
    random.iter().fold(String::with_capacity(bytes * 2), |mut hex, byte| {
        let _ = write!(hex, "{byte:02x}");
        hex
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn fresh_values_differ_and_are_hex() {
        let (a, b) = (super::fresh(), super::fresh());
        assert_ne!(a, b);
        assert!(a.len() == 32 && a.bytes().all(|byte| byte.is_ascii_hexdigit()));
    }
}
