//! Colours as graphite-web reads them: its alias names (`blue` is `#6464ff`, not CSS blue),
//! `rrggbb`, `#rrggbb`, `%23rrggbb`, and `rrggbbaa` with an alpha byte.

use super::Error;

/// An sRGB colour with alpha (0–255 each).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Color {
    pub r: u8,
    pub g: u8,
    pub b: u8,
    pub a: u8,
}

/// graphite-web's `colorAliases` (`render/glyph.py`).
const ALIASES: [(&str, [u8; 3]); 23] = [
    ("black", [0, 0, 0]),
    ("white", [255, 255, 255]),
    ("blue", [100, 100, 255]),
    ("green", [0, 200, 0]),
    ("red", [200, 0, 50]),
    ("yellow", [255, 255, 0]),
    ("orange", [255, 165, 0]),
    ("purple", [200, 100, 255]),
    ("brown", [150, 100, 50]),
    ("cyan", [0, 255, 255]),
    ("aqua", [0, 150, 150]),
    ("gray", [175, 175, 175]),
    ("grey", [175, 175, 175]),
    ("magenta", [255, 0, 255]),
    ("pink", [255, 100, 100]),
    ("gold", [200, 200, 0]),
    ("rose", [200, 150, 200]),
    ("darkblue", [0, 0, 255]),
    ("darkgreen", [0, 255, 0]),
    ("darkred", [255, 0, 0]),
    ("darkgray", [111, 111, 111]),
    ("darkgrey", [111, 111, 111]),
    ("transparent", [0, 0, 0]),
];

impl Color {
    pub const fn rgb(r: u8, g: u8, b: u8) -> Color {
        Color { r, g, b, a: 255 }
    }

    /// Parses an alias or a hex colour; anything else is an error naming `what`.
    pub fn parse(what: &str, value: &str) -> Result<Color, Error> {
        let value = value.trim();
        if let Some(&(name, [r, g, b])) = ALIASES.iter().find(|(n, _)| *n == value) {
            let a = if name == "transparent" { 0 } else { 255 };
            return Ok(Color { r, g, b, a });
        }
        let hex = value
            .strip_prefix('#')
            .or_else(|| value.strip_prefix("%23"))
            .unwrap_or(value);
        let byte = |i: usize| {
            hex.get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        };
        let bad = || {
            Error::BadParam(
                what.to_string(),
                format!("{value:?} is not a colour (a name such as blue, or rrggbb[aa] hex)"),
            )
        };
        if hex.len() != 6 && hex.len() != 8 {
            return Err(bad());
        }
        let (r, g, b) = (
            byte(0).ok_or_else(bad)?,
            byte(2).ok_or_else(bad)?,
            byte(4).ok_or_else(bad)?,
        );
        let a = if hex.len() == 8 {
            byte(6).ok_or_else(bad)?
        } else {
            255
        };
        Ok(Color { r, g, b, a })
    }

    pub fn with_alpha(self, alpha: f64) -> Color {
        Color {
            a: (f64::from(self.a) * alpha.clamp(0.0, 1.0)).round() as u8,
            ..self
        }
    }

    /// `#rrggbb` for SVG attributes (alpha goes in a separate opacity attribute).
    pub fn hex(&self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.r, self.g, self.b)
    }

    pub fn opacity(&self) -> f64 {
        f64::from(self.a) / 255.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_hex_and_alpha() {
        assert_eq!(
            Color::parse("c", "blue").unwrap(),
            Color::rgb(100, 100, 255)
        );
        assert_eq!(
            Color::parse("c", "rose").unwrap(),
            Color::rgb(200, 150, 200)
        );
        assert_eq!(Color::parse("c", "ff0000").unwrap(), Color::rgb(255, 0, 0));
        assert_eq!(Color::parse("c", "#00ff00").unwrap(), Color::rgb(0, 255, 0));
        assert_eq!(
            Color::parse("c", "%230000ff").unwrap(),
            Color::rgb(0, 0, 255)
        );
        let c = Color::parse("c", "268bd2aa").unwrap();
        assert_eq!((c.r, c.g, c.b, c.a), (0x26, 0x8b, 0xd2, 0xaa));
        assert_eq!(c.hex(), "#268bd2");
    }

    #[test]
    fn bad_colours_are_errors() {
        for bad in ["", "bleu", "12345", "zzzzzz", "1234567", "#12345g"] {
            assert!(Color::parse("bgcolor", bad).is_err(), "{bad}");
        }
    }
}
