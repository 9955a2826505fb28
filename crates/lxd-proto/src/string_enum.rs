//! The `string_enum!` macro: string-valued enums with an `Other(String)` arm.
//!
//! LXD grows its vocabularies (lifecycle actions, operation classes, instance types...) with
//! every release, and Incus diverges from it. A closed Rust enum would make a newer server's
//! reply undecodable, so every such enum generated here keeps unknown strings verbatim in
//! `Other(String)` and writes them back unchanged.

/// Defines a string enum with known variants plus `Other(String)`.
///
/// Generates: `as_str`, `is_known`, `Display`, `FromStr` (infallible), `From<&str>`,
/// `From<String>`, `AsRef<str>`, `Serialize`, `Deserialize` and `Default` (the named
/// `default = Variant`, or `Other("")` meaning "missing").
///
/// Always build values from strings with `From`/`parse` so that a known string becomes its
/// variant; `Other("start")` built by hand is *not* equal to the `Start` variant.
macro_rules! string_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $(
                $(#[$vmeta:meta])*
                $variant:ident = $text:literal
            ),* $(,)?
        }
        $(default = $default:ident;)?
    ) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        $vis enum $name {
            $(
                $(#[$vmeta])*
                #[doc = concat!("`", $text, "`")]
                $variant,
            )*
            /// A value this version of the crate does not know, kept verbatim so it round-trips.
            Other(String),
        }

        impl $name {
            /// The wire string of this value.
            ///
            /// A known variant gives its LXD spelling; an unknown value gives back the string
            /// it was read from.
            ///
            /// ```
            #[doc = concat!("use lxd_proto::", stringify!($name), ";")]
            ///
            #[doc = concat!(
                "let known = ", stringify!($name), "::from(\"",
                string_enum!(@first_text $($text),*), "\");"
            )]
            #[doc = concat!(
                "assert_eq!(known.as_str(), \"", string_enum!(@first_text $($text),*), "\");"
            )]
            #[doc = concat!("let newer = ", stringify!($name), "::from(\"from-a-newer-lxd\");")]
            /// assert_eq!(newer.as_str(), "from-a-newer-lxd");
            /// ```
            pub fn as_str(&self) -> &str {
                match self {
                    $( Self::$variant => $text, )*
                    Self::Other(other) => other.as_str(),
                }
            }

            /// Whether this is one of the known variants (not `Other`).
            ///
            /// ```
            #[doc = concat!("use lxd_proto::", stringify!($name), ";")]
            ///
            #[doc = concat!(
                "assert!(", stringify!($name), "::from(\"",
                string_enum!(@first_text $($text),*), "\").is_known());"
            )]
            #[doc = concat!(
                "assert!(!", stringify!($name), "::from(\"from-a-newer-lxd\").is_known());"
            )]
            /// ```
            pub fn is_known(&self) -> bool {
                !matches!(self, Self::Other(_))
            }
        }

        impl ::std::default::Default for $name {
            fn default() -> Self {
                string_enum!(@default $($default)?)
            }
        }

        impl ::std::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                match self {
                    $( Self::$variant => f.write_str(stringify!($variant)), )*
                    Self::Other(other) => f.debug_tuple("Other").field(other).finish(),
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::convert::From<&str> for $name {
            fn from(text: &str) -> Self {
                match text {
                    $( $text => Self::$variant, )*
                    other => Self::Other(other.to_owned()),
                }
            }
        }

        impl ::std::convert::From<String> for $name {
            fn from(text: String) -> Self {
                match text.as_str() {
                    $( $text => Self::$variant, )*
                    _ => Self::Other(text),
                }
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = ::std::convert::Infallible;

            fn from_str(text: &str) -> ::std::result::Result<Self, Self::Err> {
                Ok(Self::from(text))
            }
        }

        impl ::std::convert::AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> ::std::result::Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> ::std::result::Result<Self, D::Error> {
                // Owned String: also works from buffered content (flattened structs), where
                // borrowing a &str is not possible.
                let text = <String as ::serde::Deserialize>::deserialize(deserializer)?;
                Ok(Self::from(text))
            }
        }
    };

    // The wire string of the first variant, for the generated doc examples.
    (@first_text $first:literal $(, $rest:literal)*) => { $first };

    (@default) => { Self::Other(String::new()) };
    (@default $default:ident) => { Self::$default };
}

pub(crate) use string_enum;

#[cfg(test)]
mod tests {
    string_enum! {
        /// A test enum.
        pub enum Color {
            /// Red.
            Red = "red",
            DarkBlue = "dark-blue",
        }
    }

    string_enum! {
        /// A test enum with a default.
        pub enum Shape {
            Square = "square",
            Round = "round",
        }
        default = Round;
    }

    #[test]
    fn known_and_other_round_trip() {
        let colors: Vec<Color> = serde_json::from_str(r#"["red","dark-blue","mauve"]"#).unwrap();
        assert_eq!(
            colors,
            vec![Color::Red, Color::DarkBlue, Color::Other("mauve".into())]
        );
        assert!(colors[0].is_known());
        assert!(!colors[2].is_known());
        assert_eq!(
            serde_json::to_string(&colors).unwrap(),
            r#"["red","dark-blue","mauve"]"#
        );
    }

    #[test]
    fn conversions() {
        assert_eq!("dark-blue".parse::<Color>().unwrap(), Color::DarkBlue);
        assert_eq!(Color::from(String::from("red")), Color::Red);
        assert_eq!(Color::DarkBlue.to_string(), "dark-blue");
        assert_eq!(Color::Other("x".into()).as_ref(), "x");
        assert_eq!(format!("{:?}", Color::DarkBlue), "DarkBlue");
        assert_eq!(format!("{:?}", Color::Other("x".into())), r#"Other("x")"#);
    }

    #[test]
    fn defaults() {
        assert_eq!(Color::default(), Color::Other(String::new()));
        assert_eq!(Shape::default(), Shape::Round);
        assert_eq!(Shape::Square.as_str(), "square");
        assert!(Shape::Square.is_known());
    }
}
