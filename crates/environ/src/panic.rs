//! What a caught panic says: the one decoder of panic payloads, for the
//! compiler (Cranelift's panics become errors) and the facade (a host
//! closure's panic becomes `Error::HostPanic`).

use core::any::Any;

/// The message of a panic payload: its `&str` or `String`, or a placeholder
/// for any other payload.
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_payload_has_a_message() {
        let caught = |f: fn()| std::panic::catch_unwind(f).unwrap_err();
        assert_eq!(panic_message(&*caught(|| panic!("static"))), "static");
        assert_eq!(panic_message(&*caught(|| panic!("{}", 42))), "42");
        let other = caught(|| std::panic::panic_any(7u8));
        assert_eq!(panic_message(&*other), "non-string panic payload");
    }
}
