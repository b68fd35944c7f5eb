//! A component of some other world entirely: it must be refused with a clear error.

wit_bindgen::generate!({
    inline: "package other:thing@1.0.0; world gadget { export spin: func(times: u32) -> u32; }",
});

struct Gadget;

impl Guest for Gadget {
    fn spin(times: u32) -> u32 {
        times.wrapping_mul(2)
    }
}

export!(Gadget);
