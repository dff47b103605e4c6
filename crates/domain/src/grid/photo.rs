//! Event photos, pure: what an upload is (by its bytes, not its name or declared type), the
//! size limit, and the copy shown publicly with its location removed.
//!
//! A phone camera writes where the photo was taken into EXIF (the GPS IFD, tag 0x8825),
//! and often into XMP too. A resident's photo of a neighbour dispute must not publish
//! where they live, so every copy shown publicly is [`strip_gps`]ped:
//! - JPEG: the file is walked segment by segment and scan by scan, and only the segments
//!   needed to show the image are kept (an allowlist: frame, tables, scans, JFIF, ICC
//!   profile, Adobe colour transform); the APP1 `Exif` and XMP segments are removed whole
//!   (simpler and surer than editing the TIFF structure inside, which can hide GPS in maker
//!   notes and thumbnails), and so are IPTC (APP13), comments and every other APPn. The
//!   orientation alone is written back in a minimal new Exif segment, because phone photos
//!   rely on it to stand upright. The copy ends at the first EOI: phones store further
//!   images after it (MPF previews and depth maps), each with its own Exif and GPS.
//!   The kept segments and the image data are kept byte for byte.
//! - PNG: only the image chunks and those saying how to show it are kept: the `eXIf` chunk,
//!   the text chunks (`tEXt`, `zTXt`, `iTXt`, where XMP lives) and any other are dropped,
//!   and the copy ends at `IEND`.
//! - WebP: only the image, animation and ICC chunks are kept: `EXIF`, `XMP ` and any other
//!   are dropped, their flags cleared in `VP8X`, data after the RIFF size not copied.
//!
//! A file that is cut short or whose structure runs past its end is refused as
//! [`PhotoError::Corrupt`]; no input makes these functions panic.

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

/// The JPEG rebuilt from an allowlist of its segments (ITU-T T.81 annex B, JFIF 1.02):
/// - kept: the frame (SOF0–SOF15: 0xC0–0xCF without 0xC4, 0xC8 and 0xCC), the tables DQT,
///   DHT, DAC and DRI, DNL, each SOS with its entropy-coded data (where `FF 00` is a stuffed
///   data byte and RST0–RST7 are part of the data), APP0 `JFIF` (its 14-byte header only, a
///   thumbnail after it dropped), APP2 `ICC_PROFILE` (colour) and APP14 `Adobe` (its 12
///   bytes: the colour transform);
/// - dropped: APP1 (Exif, XMP and all else; the orientation alone comes back, see
///   [`orientation_segment`]), APP2 `MPF` and every other APPn (APP13 IPTC/Photoshop,
///   APP0 `JFXX`, whose thumbnail may be a whole JPEG with its own Exif), COM, the reserved
///   0xC8 `JPG` and 0xF0–0xFD extensions, and TEM;
/// - the file ends at the first EOI after a scan: what follows it (the MPF secondary images
///   a phone stores there, previews and depth maps each with their own Exif and GPS, or any
///   trailing data) is not copied.
///
/// Scans are walked, not copied to the end: a progressive JPEG has several SOS with DHT (and
/// metadata) between them. A file that ends before its EOI, a segment that runs past the end,
/// a second SOI or a marker where none can be is [`PhotoError::Corrupt`].
fn strip_jpeg(b: &[u8]) -> Result<Vec<u8>, PhotoError> {
    if b.get(..2) != Some(&[0xFF, 0xD8][..]) {
        return Err(PhotoError::Corrupt);
    }
    let mut out = Vec::with_capacity(b.len());
    out.extend_from_slice(&[0xFF, 0xD8]);
    let mut i = 2;
    let mut orientation = None;
    let mut exif_at = None;
    let mut frame = false;
    let mut scans = false;
    loop {
        // A marker: 0xFF, any number of 0xFF fill bytes, the marker code.
        if b.get(i) != Some(&0xFF) {
            return Err(PhotoError::Corrupt);
        }
        while b.get(i + 1) == Some(&0xFF) {
            i += 1;
        }
        let marker = *b.get(i + 1).ok_or(PhotoError::Corrupt)?;
        match marker {
            // EOI: the end of this image; the first one ends the copy. Before any scan
            // there is nothing to show.
            0xD9 if scans => {
                if let (Some(at), Some(o)) = (exif_at, orientation) {
                    out.splice(at..at, orientation_segment(o));
                }
                out.extend_from_slice(&[0xFF, 0xD9]);
                return Ok(out);
            }
            // A stuffed zero or RSTn outside a scan, a second SOI, EOI before a scan.
            0x00 | 0xD0..=0xD9 => return Err(PhotoError::Corrupt),
            // TEM stands alone and is not kept.
            0x01 => {
                i += 2;
                continue;
            }
            _ => {}
        }
        let len = b
            .get(i + 2..i + 4)
            .map(|l| usize::from(u16::from_be_bytes([l[0], l[1]])))
            .filter(|l| *l >= 2)
            .ok_or(PhotoError::Corrupt)?;
        let end = i + 2 + len;
        let segment = b.get(i..end).ok_or(PhotoError::Corrupt)?;
        let body = &segment[4..];
        match marker {
            0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => {
                frame = true;
                out.extend_from_slice(segment);
            }
            // DHT, DAC, DQT, DNL, DRI.
            0xC4 | 0xCC | 0xDB..=0xDD => out.extend_from_slice(segment),
            0xDA => {
                if !frame {
                    return Err(PhotoError::Corrupt);
                }
                scans = true;
                out.extend_from_slice(segment);
                let data_end = scan_end(b, end)?;
                out.extend_from_slice(b.get(end..data_end).ok_or(PhotoError::Corrupt)?);
                i = data_end;
                continue;
            }
            0xE0 if body.starts_with(b"JFIF\0") && body.len() >= 14 => {
                // The header without its thumbnail (0×0), so nothing rides after it.
                out.extend_from_slice(&[0xFF, 0xE0, 0, 16]);
                out.extend_from_slice(&body[..12]);
                out.extend_from_slice(&[0, 0]);
            }
            // APP1 Exif, XMP and anything else: dropped; the first Exif before the scans
            // leaves its orientation and its place.
            0xE1 if body.starts_with(EXIF_HEADER) && !scans => {
                if orientation.is_none() {
                    orientation = body.get(EXIF_HEADER.len()..).and_then(read_orientation);
                }
                exif_at.get_or_insert(out.len());
            }
            0xE2 if body.starts_with(b"ICC_PROFILE\0") => out.extend_from_slice(segment),
            0xEE if body.starts_with(b"Adobe") && body.len() >= 12 => {
                out.extend_from_slice(&[0xFF, 0xEE, 0, 14]);
                out.extend_from_slice(&body[..12]);
            }
            _ => {}
        }
        i = end;
    }
}

/// Where the entropy-coded data that starts at `from` ends: at the first 0xFF that is not
/// a stuffed zero (`FF 00`) or a restart marker (`FF D0`–`FF D7`), i.e. at the next marker
/// (or its fill bytes). Data that runs to the end of the file never reached its EOI.
fn scan_end(b: &[u8], from: usize) -> Result<usize, PhotoError> {
    let mut j = from;
    loop {
        j += b
            .get(j..)
            .and_then(|rest| rest.iter().position(|&x| x == 0xFF))
            .ok_or(PhotoError::Corrupt)?;
        match b.get(j + 1) {
            Some(0x00 | 0xD0..=0xD7) => j += 2,
            Some(_) => return Ok(j),
            None => return Err(PhotoError::Corrupt),
        }
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
        let s = tiff.get(p..p.checked_add(2)?)?;
        Some(if le {
            u16::from_le_bytes([s[0], s[1]])
        } else {
            u16::from_be_bytes([s[0], s[1]])
        })
    };
    let u32_at = |p: usize| -> Option<u32> {
        let s = tiff.get(p..p.checked_add(4)?)?;
        Some(if le {
            u32::from_le_bytes([s[0], s[1], s[2], s[3]])
        } else {
            u32::from_be_bytes([s[0], s[1], s[2], s[3]])
        })
    };
    let ifd = usize::try_from(u32_at(4)?).ok()?;
    let n = usize::from(u16_at(ifd)?);
    (0..n).find_map(|k| {
        let e = ifd.checked_add(2 + 12 * k)?;
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

/// The PNG chunks a public copy keeps: the critical ones and the ancillary ones that say how
/// to show the pixels (colour, transparency, pixel size, APNG animation). Everything else is
/// dropped: `eXIf`, the text chunks `tEXt`, `zTXt`, `iTXt` (where XMP lives), `tIME`, and
/// any private or unknown chunk. (`mDCV`/`cLLI` are PNG 3's names, `mDCv`/`cLLi` the drafts'.)
const PNG_KEPT: &[&[u8; 4]] = &[
    b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"cHRM", b"gAMA", b"iCCP", b"sBIT", b"sRGB",
    b"cICP", b"mDCV", b"mDCv", b"cLLI", b"cLLi", b"bKGD", b"pHYs", b"acTL", b"fcTL", b"fdAT",
];

/// The PNG rebuilt from [`PNG_KEPT`]; it ends with `IEND`, and
/// anything after that is not copied. A chunk running past the end, or no `IEND`, is
/// [`PhotoError::Corrupt`].
fn strip_png(b: &[u8]) -> Result<Vec<u8>, PhotoError> {
    let mut out = b.get(..8).ok_or(PhotoError::Corrupt)?.to_vec();
    let mut i = 8;
    loop {
        let head = b.get(i..i + 8).ok_or(PhotoError::Corrupt)?;
        let len = usize::try_from(u32::from_be_bytes([head[0], head[1], head[2], head[3]]))
            .map_err(|_| PhotoError::Corrupt)?;
        let kind = &head[4..8];
        let end = i
            .checked_add(12)
            .and_then(|x| x.checked_add(len))
            .ok_or(PhotoError::Corrupt)?;
        let chunk = b.get(i..end).ok_or(PhotoError::Corrupt)?;
        if PNG_KEPT.iter().any(|k| k[..] == *kind) {
            out.extend_from_slice(chunk);
        }
        if kind == b"IEND" {
            return Ok(out);
        }
        i = end;
    }
}

/// The WebP chunks a public copy keeps: the image (`VP8 `, `VP8L`, `VP8X` with its flags
/// fixed, `ALPH`), the animation (`ANIM`, `ANMF`) and the colour profile (`ICCP`); `EXIF`,
/// `XMP ` and any unknown chunk are dropped.
const WEBP_KEPT: &[&[u8; 4]] = &[
    b"VP8 ", b"VP8L", b"VP8X", b"ALPH", b"ANIM", b"ANMF", b"ICCP",
];

/// The WebP rebuilt from [`WEBP_KEPT`], within the RIFF size the header states (data after
/// it is not copied), with the RIFF size recomputed and the EXIF and XMP flags of `VP8X`
/// cleared. A RIFF size past the end of the file or a chunk running past it is
/// [`PhotoError::Corrupt`].
fn strip_webp(b: &[u8]) -> Result<Vec<u8>, PhotoError> {
    let size = b
        .get(4..8)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
        .and_then(|s| usize::try_from(s).ok())
        .ok_or(PhotoError::Corrupt)?;
    let riff = b
        .get(8..size.checked_add(8).ok_or(PhotoError::Corrupt)?)
        .filter(|r| r.starts_with(b"WEBP"))
        .ok_or(PhotoError::Corrupt)?;
    let mut body = b"WEBP".to_vec();
    let mut image = false;
    let mut i = 4;
    while i < riff.len() {
        let head = riff.get(i..i + 8).ok_or(PhotoError::Corrupt)?;
        let kind = &head[..4];
        let len = usize::try_from(u32::from_le_bytes([head[4], head[5], head[6], head[7]]))
            .map_err(|_| PhotoError::Corrupt)?;
        let padded = len.checked_add(len & 1).ok_or(PhotoError::Corrupt)?;
        let end = (i + 8).checked_add(padded).ok_or(PhotoError::Corrupt)?;
        let chunk = riff.get(i..end).ok_or(PhotoError::Corrupt)?;
        if kind == b"VP8X" {
            let mut chunk = chunk.to_vec();
            // Flags: bit 3 EXIF, bit 2 XMP.
            if let Some(flags) = chunk.get_mut(8) {
                *flags &= !(0x08 | 0x04);
            }
            body.extend_from_slice(&chunk);
        } else if WEBP_KEPT.iter().any(|k| k[..] == *kind) {
            image |= matches!(kind, b"VP8 " | b"VP8L" | b"ANMF");
            body.extend_from_slice(chunk);
        }
        i = end;
    }
    if !image {
        return Err(PhotoError::Corrupt);
    }
    let size = u32::try_from(body.len()).map_err(|_| PhotoError::Corrupt)?;
    let mut out = b"RIFF".to_vec();
    out.extend_from_slice(&size.to_le_bytes());
    out.extend_from_slice(&body);
    Ok(out)
}

#[cfg(test)]
mod tests;
