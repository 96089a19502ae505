//! Exports `run` like a plugin but imports an interface xacct does not provide: the host
//! must refuse it at load time, naming the import.

// The component ABI glue wit-bindgen generates is `unsafe` FFI; the workspace denies
// `unsafe` everywhere else.
#![allow(unsafe_code)]

wit_bindgen::generate!({
    inline: "
        package test:extra;

        interface secrets {
            steal: func() -> string;
        }

        world extra {
            import secrets;
            export run: func(input: string) -> result<string, string>;
        }
    ",
    world: "extra",
});

struct Extra;

impl Guest for Extra {
    fn run(_input: String) -> Result<String, String> {
        Ok(test::extra::secrets::steal())
    }
}

export!(Extra);
