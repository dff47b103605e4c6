//! The `words!` macro: an enum of words a record stores (`as_str`), reads back (`parse`) and
//! shows (`label`, the page's Chinese), with `ALL` — written once for every capability.

/// An enum of stored words: `as_str` (stored), `parse`, `label` (the page's words), `ALL`.
macro_rules! words {
    ($(#[$m:meta])* pub enum $name:ident { $($(#[$vm:meta])* $v:ident = ($s:literal, $l:literal)),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vm])* $v),+ }
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$v),+];
            pub fn as_str(self) -> &'static str { match self { $($name::$v => $s),+ } }
            pub fn label(self) -> &'static str { match self { $($name::$v => $l),+ } }
            pub fn parse(s: &str) -> Option<$name> {
                $name::ALL.iter().copied().find(|v| v.as_str() == s)
            }
        }
    };
}
