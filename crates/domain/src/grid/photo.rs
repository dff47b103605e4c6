//! Event photos, pure: what an upload is (by its bytes, not its name or declared type), the
//! size limit, and the copy shown publicly with its location removed.
//!
//! A phone camera writes where the photo was taken into EXIF (the GPS IFD, tag 0x8825),
//! and often into XMP too. A resident's photo of a neighbour dispute must not publish
//! where they live, so every copy shown publicly is [`strip_gps`]ped:
//! - JPEG: the APP1 `Exif` and XMP segments are removed whole (simpler and surer than
//!   editing the TIFF structure inside, which can hide GPS in maker notes and thumbnails);
//!   the orientation alone is written back in a minimal new Exif segment, because phone
//!   photos rely on it to stand upright. Every other segment and the image data are kept
//!   byte for byte.
//! - PNG: the `eXIf` chunk and the text chunks (`tEXt`, `zTXt`, `iTXt`, where XMP lives) are
//!   dropped; the image chunks are kept.
//! - WebP: the `EXIF` and `XMP ` chunks are dropped and their flags cleared in `VP8X`.

/// The image types an event photo may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageType {
    Jpeg,
    Png,
    WebP,
}

impl ImageType {
    pub fn mime(self) -> &'static str {
        match self {
            ImageType::Jpeg => "image/jpeg",
            ImageType::Png => "image/png",
            ImageType::WebP => "image/webp",
        }
    }
    pub fn extension(self) -> &'static str {
        match self {
            ImageType::Jpeg => "jpg",
            ImageType::Png => "png",
            ImageType::WebP => "webp",
        }
    }
    fn from_mime(m: &str) -> Option<ImageType> {
        match m.trim().to_ascii_lowercase().as_str() {
            "image/jpeg" | "image/jpg" | "image/pjpeg" => Some(ImageType::Jpeg),
            "image/png" => Some(ImageType::Png),
            "image/webp" => Some(ImageType::WebP),
            _ => None,
        }
    }
}

/// The type by the file's first bytes (magic numbers), or `None`.
pub fn sniff(bytes: &[u8]) -> Option<ImageType> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(ImageType::Jpeg)
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(ImageType::Png)
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some(ImageType::WebP)
    } else {
        None
    }
}

/// The default upload limit: 10 MB (a phone's full-size JPEG is 2–6 MB).
pub const DEFAULT_MAX_BYTES: usize = 10 * 1024 * 1024;

/// Why a photo is refused (422), in the words the reporter reads; the limit is named.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhotoError {
    #[error("照片是空文件")]
    Empty,
    #[error("照片不能超过{}，这张有{}", size_text(*max), size_text(*size))]
    TooLarge { size: usize, max: usize },
    #[error("只能上传JPEG、PNG或WebP格式的照片")]
    WrongType,
    #[error("照片的内容是{actual}，与声明的类型{declared}不符")]
    Mismatch {
        declared: String,
        actual: &'static str,
    },
    #[error("照片文件已损坏，无法读取")]
    Corrupt,
}

impl PhotoError {
    pub fn field(&self) -> &'static str {
        "photo"
    }
    pub fn code(&self) -> &'static str {
        match self {
            PhotoError::Empty => "empty",
            PhotoError::TooLarge { .. } => "too_large",
            PhotoError::WrongType => "wrong_type",
            PhotoError::Mismatch { .. } => "type_mismatch",
            PhotoError::Corrupt => "corrupt",
        }
    }
}

/// `10 MB`, `512 KB`, `300 字节`.
pub fn size_text(bytes: usize) -> String {
    const KB: usize = 1024;
    const MB: usize = 1024 * 1024;
    if bytes >= MB {
        let mb = format!("{:.1}", bytes as f64 / MB as f64);
        format!("{} MB", mb.strip_suffix(".0").unwrap_or(&mb))
    } else if bytes >= KB {
        format!("{} KB", bytes.div_ceil(KB))
    } else {
        format!("{bytes} 字节")
    }
}

/// Checks an upload: not empty, at most `max_bytes`, a JPEG, PNG or WebP by its bytes, and —
/// when the client declared a type other than the generic `application/octet-stream` —
/// the type it declared. Returns the type the bytes are.
pub fn check_upload(
    bytes: &[u8],
    declared_type: &str,
    max_bytes: usize,
) -> Result<ImageType, PhotoError> {
    if bytes.is_empty() {
        return Err(PhotoError::Empty);
    }
    if bytes.len() > max_bytes {
        return Err(PhotoError::TooLarge {
            size: bytes.len(),
            max: max_bytes,
        });
    }
    let actual = sniff(bytes).ok_or(PhotoError::WrongType)?;
    let declared = declared_type.split(';').next().unwrap_or("").trim();
    if !declared.is_empty() && declared != "application/octet-stream" {
        match ImageType::from_mime(declared) {
            None => return Err(PhotoError::WrongType),
            Some(t) if t != actual => {
                return Err(PhotoError::Mismatch {
                    declared: declared.to_string(),
                    actual: actual.mime(),
                })
            }
            Some(_) => {}
        }
    }
    Ok(actual)
}

/// The photo without its location (see the module's note); the type by its bytes.
pub fn strip_gps(bytes: &[u8]) -> Result<Vec<u8>, PhotoError> {
    match sniff(bytes) {
        Some(ImageType::Jpeg) => strip_jpeg(bytes),
        Some(ImageType::Png) => strip_png(bytes),
        Some(ImageType::WebP) => strip_webp(bytes),
        None => Err(PhotoError::WrongType),
    }
}

const EXIF_HEADER: &[u8] = b"Exif\0\0";
const XMP_HEADER: &[u8] = b"http://ns.adobe.com/xap/1.0/\0";
const XMP_EXT_HEADER: &[u8] = b"http://ns.adobe.com/xmp/extension/\0";

fn strip_jpeg(b: &[u8]) -> Result<Vec<u8>, PhotoError> {
    let mut out = Vec::with_capacity(b.len());
    out.extend_from_slice(&b[..2]);
    let mut i = 2;
    let mut orientation = None;
    let mut exif_at = None;
    loop {
        // Markers may be preceded by 0xFF fill bytes.
        while i < b.len() && b[i] == 0xFF && b.get(i + 1) == Some(&0xFF) {
            i += 1;
        }
        if i + 1 >= b.len() || b[i] != 0xFF {
            return Err(PhotoError::Corrupt);
        }
        let marker = b[i + 1];
        match marker {
            // TEM and RSTn stand alone.
            0x01 | 0xD0..=0xD7 => {
                out.extend_from_slice(&b[i..i + 2]);
                i += 2;
                continue;
            }
            // EOI before any scan: nothing to show.
            0xD9 => return Err(PhotoError::Corrupt),
            _ => {}
        }
        if i + 4 > b.len() {
            return Err(PhotoError::Corrupt);
        }
        let len = usize::from(u16::from_be_bytes([b[i + 2], b[i + 3]]));
        if len < 2 || i + 2 + len > b.len() {
            return Err(PhotoError::Corrupt);
        }
        let body = &b[i + 4..i + 2 + len];
        if marker == 0xDA {
            // SOS: the scan and everything after it is image data, kept as it is.
            if let Some(at) = exif_at {
                if let Some(o) = orientation {
                    let seg = orientation_segment(o);
                    out.splice(at..at, seg);
                }
            }
            out.extend_from_slice(&b[i..]);
            return Ok(out);
        }
        let drop = marker == 0xE1
            && (body.starts_with(EXIF_HEADER)
                || body.starts_with(XMP_HEADER)
                || body.starts_with(XMP_EXT_HEADER));
        if drop {
            if body.starts_with(EXIF_HEADER) {
                orientation = orientation.or_else(|| read_orientation(&body[EXIF_HEADER.len()..]));
                exif_at.get_or_insert(out.len());
            }
        } else {
            out.extend_from_slice(&b[i..i + 2 + len]);
        }
        i += 2 + len;
    }
}

/// The orientation (tag 0x0112) of IFD0 of a TIFF structure, if present and sane.
fn read_orientation(tiff: &[u8]) -> Option<u16> {
    let le = match tiff.get(..2)? {
        b"II" => true,
        b"MM" => false,
        _ => return None,
    };
    let u16_at = |p: usize| -> Option<u16> {
        let s = tiff.get(p..p + 2)?;
        Some(if le {
            u16::from_le_bytes([s[0], s[1]])
        } else {
            u16::from_be_bytes([s[0], s[1]])
        })
    };
    let u32_at = |p: usize| -> Option<u32> {
        let s = tiff.get(p..p + 4)?;
        Some(if le {
            u32::from_le_bytes([s[0], s[1], s[2], s[3]])
        } else {
            u32::from_be_bytes([s[0], s[1], s[2], s[3]])
        })
    };
    let ifd = usize::try_from(u32_at(4)?).ok()?;
    let n = usize::from(u16_at(ifd)?);
    (0..n).find_map(|k| {
        let e = ifd + 2 + 12 * k;
        (u16_at(e)? == 0x0112 && u16_at(e + 2)? == 3)
            .then(|| u16_at(e + 8))
            .flatten()
            .filter(|o| (1..=8).contains(o))
    })
}

/// A minimal APP1 Exif segment holding only the orientation: a big-endian TIFF header,
/// IFD0 with one entry, no next IFD.
fn orientation_segment(o: u16) -> Vec<u8> {
    let mut tiff = vec![b'M', b'M', 0, 42, 0, 0, 0, 8];
    tiff.extend_from_slice(&1u16.to_be_bytes());
    tiff.extend_from_slice(&0x0112u16.to_be_bytes());
    tiff.extend_from_slice(&3u16.to_be_bytes());
    tiff.extend_from_slice(&1u32.to_be_bytes());
    tiff.extend_from_slice(&o.to_be_bytes());
    tiff.extend_from_slice(&[0, 0]);
    tiff.extend_from_slice(&0u32.to_be_bytes());
    let len = (2 + EXIF_HEADER.len() + tiff.len()) as u16;
    let mut seg = vec![0xFF, 0xE1];
    seg.extend_from_slice(&len.to_be_bytes());
    seg.extend_from_slice(EXIF_HEADER);
    seg.extend_from_slice(&tiff);
    seg
}

fn strip_png(b: &[u8]) -> Result<Vec<u8>, PhotoError> {
    let mut out = b[..8].to_vec();
    let mut i = 8;
    let mut ended = false;
    while i < b.len() {
        if i + 12 > b.len() {
            return Err(PhotoError::Corrupt);
        }
        let len = u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]) as usize;
        let end = i
            .checked_add(12)
            .and_then(|x| x.checked_add(len))
            .filter(|e| *e <= b.len())
            .ok_or(PhotoError::Corrupt)?;
        let kind = &b[i + 4..i + 8];
        if !matches!(kind, b"eXIf" | b"tEXt" | b"zTXt" | b"iTXt") {
            out.extend_from_slice(&b[i..end]);
        }
        i = end;
        if kind == b"IEND" {
            ended = true;
            break;
        }
    }
    if ended {
        Ok(out)
    } else {
        Err(PhotoError::Corrupt)
    }
}

fn strip_webp(b: &[u8]) -> Result<Vec<u8>, PhotoError> {
    let mut body = b"WEBP".to_vec();
    let mut i = 12;
    while i < b.len() {
        if i + 8 > b.len() {
            return Err(PhotoError::Corrupt);
        }
        let kind = &b[i..i + 4];
        let len = u32::from_le_bytes([b[i + 4], b[i + 5], b[i + 6], b[i + 7]]) as usize;
        let padded = len + (len & 1);
        let end = (i + 8)
            .checked_add(padded)
            .filter(|e| *e <= b.len())
            .ok_or(PhotoError::Corrupt)?;
        match kind {
            b"EXIF" | b"XMP " => {}
            b"VP8X" if len >= 1 => {
                let mut chunk = b[i..end].to_vec();
                // Flags: bit 3 EXIF, bit 2 XMP.
                chunk[8] &= !(0x08 | 0x04);
                body.extend_from_slice(&chunk);
            }
            _ => body.extend_from_slice(&b[i..end]),
        }
        i = end;
    }
    let mut out = b"RIFF".to_vec();
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&body);
    Ok(out)
}

#[cfg(test)]
mod tests;
