//! QR codes printed on documents (the receipt's tracking address), as inline SVG so a
//! printout needs no image request and stays sharp at any size.

use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};

/// An inline `<svg>` of `text` as a QR code, labelled for screen readers. Medium error
/// correction survives a creased or smudged receipt. `None` only when the text is too long
/// for a QR code (several kilobytes), which no address the product prints is.
pub fn svg(text: &str, label: &str) -> Option<String> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).ok()?;
    let image = code
        .render::<svg::Color>()
        .min_dimensions(132, 132)
        .quiet_zone(true)
        .build();
    // The renderer writes an XML declaration first; inline SVG in HTML must not have one.
    let start = image.find("<svg")?;
    let labelled = image[start..].replacen(
        "<svg",
        &format!(
            "<svg role=\"img\" aria-label=\"{}\"",
            crate::pages::escape(label)
        ),
        1,
    );
    Some(labelled)
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_address_becomes_a_labelled_inline_svg() {
        let svg = super::svg(
            "https://hall.example.cn/track?case_no=SL1&code=AB12",
            "扫码查询",
        )
        .expect("fits in a QR code");
        assert!(svg.starts_with("<svg role=\"img\" aria-label=\"扫码查询\""));
        assert!(!svg.contains("<?xml"));
        assert!(svg.contains("<path") || svg.contains("<rect"));
    }

    #[test]
    fn a_text_too_long_for_a_qr_code_gives_none() {
        assert!(super::svg(&"x".repeat(8000), "x").is_none());
    }
}
