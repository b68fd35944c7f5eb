//! The SDK's adapter kit: what every channel and payment adapter shares, so
//! an adapter is its own logic and nothing else.
//!
//! - [`Settings`]: the adapter's settings by key, with errors that name the
//!   key, and the secret a `secret` setting names.
//! - [`send`], [`post_signed_json`], [`classify`], [`check`]: HTTP through the
//!   granted `http` capability, signed as `sollecito-signing` says.
//! - [`channel_adapter!`], [`payment_adapter!`]: the world's `Guest`, with
//!   `describe` from the crate's Cargo.toml ([`describe!`]) and `?` turning a
//!   kit [`Fault`] into the world's own error ([`faults!`]).
//!
//! An adapter generates its own world, sharing `types` with the kit:
//!
//! ```ignore
//! wit_bindgen::generate!({
//!     world: "channel",
//!     path: "../../wit",
//!     with: { "sollecito:plugin/types@0.3.0": sollecito_adapter::types },
//! });
//!
//! pub struct Hook;
//!
//! impl Hook {
//!     fn deliver(settings: &Settings, msg: Message) -> Result<Receipt, DeliveryError> {
//!         let url = settings.required("url")?;
//!         let secret = settings.signing_secret("hook_signing")?;
//!         let response = sollecito_adapter::post_signed_json(url, &msg.key, &secret, msg.text.into_bytes())?;
//!         sollecito_adapter::check(response.status, &format!("HTTP {}", response.status))?;
//!         Ok(Receipt { reference: "sent".into() })
//!     }
//! }
//!
//! sollecito_adapter::channel_adapter!(Hook);
//! ```
//!
//! Why a crate of its own and not a module of `sollecito-sdk`: every world a
//! crate generates is merged into the component of whoever links it (its
//! type imports survive), and cargo features unify across the plugins
//! workspace. So the kit's world holds only `types`, `http` and `secrets`,
//! which every adapter already has or drops when unused, and policies never
//! link it.

mod http;
mod settings;

pub use http::{Class, check, classify, post_signed_json, send, signed_json_request, unix_time};
pub use settings::Settings;

/// The kit's world: only what it calls, nothing an adapter does not already import.
mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        inline: "
            package sollecito:adapter-kit;
            world kit {
                import sollecito:plugin/types@0.3.0;
                import sollecito:plugin/http@0.3.0;
                import sollecito:plugin/secrets@0.3.0;
            }
        ",
        world: "sollecito:adapter-kit/kit",
        // `types` too, though no kit function uses it: adapters share it.
        generate_all,
        // Equality lets adapter tests compare whole outcomes.
        additional_derives: [PartialEq, Eq],
    });
}

pub use bindings::sollecito::plugin::http::{Request, Response};
/// The shared `types` interface: map `sollecito:plugin/types@0.3.0` here
/// (`with`) so an adapter's `Setting` and `PluginInfo` are the kit's.
pub use bindings::sollecito::plugin::types;
pub use types::{Money, PluginInfo, Setting, Tone};

/// Why a kit call failed, in the two kinds every adapter world knows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Worth another try later (a timeout, a 5xx).
    Transient(String),
    /// Trying again will not help (a missing setting, a 4xx, a denial).
    Permanent(String),
}

impl PluginInfo {
    pub fn new(name: &str, version: &str, summary: &str) -> Self {
        PluginInfo { name: name.into(), version: version.into(), summary: summary.into() }
    }
}

/// The [`PluginInfo`] of the crate it is written in, from its Cargo.toml:
/// `name`, `version` and `description` (the summary).
#[macro_export]
macro_rules! describe {
    () => {
        $crate::PluginInfo::new(
            ::core::env!("CARGO_PKG_NAME"),
            ::core::env!("CARGO_PKG_VERSION"),
            ::core::env!("CARGO_PKG_DESCRIPTION"),
        )
    };
}

/// Implements the generated `Guest` of the `channel` world for `$ty` and
/// exports it: `describe` from [`describe!`], `deliver` calling `$ty`'s own
/// `fn deliver(settings: &Settings, msg: Message) -> Result<Receipt, DeliveryError>`,
/// and `?` on a [`Fault`] (see [`faults!`]). Names the world's types as the
/// crate's generated bindings have them: at the root, or `in` a module.
#[macro_export]
macro_rules! channel_adapter {
    ($ty:ident) => {
        $crate::channel_adapter!($ty in self);
    };
    ($ty:ident in $b:ident) => {
        $crate::__adapter!($ty in $b, deliver(msg: Message) -> Receipt, DeliveryError);
    };
}

/// [`channel_adapter!`] for the `payment` world: `$ty`'s own
/// `fn charge(settings: &Settings, charge: Charge) -> Result<ChargeOutcome, ChargeError>`.
#[macro_export]
macro_rules! payment_adapter {
    ($ty:ident) => {
        $crate::payment_adapter!($ty in self);
    };
    ($ty:ident in $b:ident) => {
        $crate::__adapter!($ty in $b, charge(charge: Charge) -> ChargeOutcome, ChargeError);
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __adapter {
    ($ty:ident in $b:ident, $call:ident($arg:ident: $input:ident) -> $ok:ident, $err:ident) => {
        $crate::faults!($b::$err);

        impl $b::Guest for $ty {
            fn describe() -> $crate::PluginInfo {
                $crate::describe!()
            }

            fn $call(
                settings: ::std::vec::Vec<$crate::Setting>,
                $arg: $b::$input,
            ) -> ::core::result::Result<$b::$ok, $b::$err> {
                // The inherent function of the same name, with the settings wrapped.
                <$ty>::$call(&$crate::Settings::new(settings), $arg)
            }
        }

        $b::export!($ty with_types_in $b);
    };
}

/// `impl From<Fault> for $error`, for the world's error variant
/// (`DeliveryError`, `ChargeError`: both `transient` and `permanent`).
#[macro_export]
macro_rules! faults {
    ($($error:ident)::+) => {
        impl ::core::convert::From<$crate::Fault> for $($error)::+ {
            fn from(fault: $crate::Fault) -> Self {
                match fault {
                    $crate::Fault::Transient(e) => $($error)::+::Transient(e),
                    $crate::Fault::Permanent(e) => $($error)::+::Permanent(e),
                }
            }
        }
    };
}
