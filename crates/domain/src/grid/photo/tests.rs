//! Photos: a real JPEG and PNG with EXIF GPS (fixtures made by `fixtures/make_fixtures.py`
//! with libjpeg's cjpeg) lose their location and keep their image; uploads are checked by
//! their bytes, with the limit named.

use super::*;

const GPS_JPEG: &[u8] = include_bytes!("../fixtures/gps.jpg");
const GPS_PNG: &[u8] = include_bytes!("../fixtures/gps.png");

/// The JPEG's segments before the scan (marker, body) and the scan with what follows.
fn segments(b: &[u8]) -> (Vec<(u8, Vec<u8>)>, Vec<u8>) {
    assert_eq!(&b[..2], [0xFF, 0xD8], "starts with SOI");
    let mut i = 2;
    let mut out = vec![];
    loop {
        assert_eq!(b[i], 0xFF);
        let m = b[i + 1];
        let len = usize::from(u16::from_be_bytes([b[i + 2], b[i + 3]]));
        if m == 0xDA {
            return (out, b[i..].to_vec());
        }
        out.push((m, b[i + 4..i + 2 + len].to_vec()));
        i += 2 + len;
    }
}

fn find(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The GPS IFD pointer tag 0x8825 as a little- or big-endian IFD entry writes it.
fn has_gps_tag(b: &[u8]) -> bool {
    find(b, &[0x25, 0x88, 0x04, 0x00]) || find(b, &[0x88, 0x25, 0x00, 0x04])
}

#[test]
fn the_fixture_really_has_gps() {
    let (segs, scan) = segments(GPS_JPEG);
    let exif = segs
        .iter()
        .find(|(m, body)| *m == 0xE1 && body.starts_with(b"Exif\0\0"))
        .expect("an Exif APP1");
    assert!(has_gps_tag(&exif.1));
    // GPSLatitude 30/1 5/1 2830/100, little-endian rationals.
    assert!(find(
        &exif.1,
        &[30, 0, 0, 0, 1, 0, 0, 0, 5, 0, 0, 0, 1, 0, 0, 0]
    ));
    assert!(segs.iter().any(|(_, b)| find(b, b"GPSLatitude")));
    assert_eq!(read_orientation(&exif.1[6..]), Some(6));
    assert!(scan.ends_with(&[0xFF, 0xD9]));
}

#[test]
fn gps_is_gone_from_the_jpeg_and_the_image_is_untouched() {
    let out = strip_gps(GPS_JPEG).unwrap();
    assert_eq!(sniff(&out), Some(ImageType::Jpeg));
    let (segs, scan) = segments(&out);
    let (orig_segs, orig_scan) = segments(GPS_JPEG);
    // The scan (SOS … EOI) byte for byte.
    assert_eq!(scan, orig_scan);
    assert_eq!(&scan[..2], [0xFF, 0xDA]);
    assert!(out.ends_with(&[0xFF, 0xD9]));
    let meta: Vec<u8> = segs.iter().flat_map(|(_, b)| b.clone()).collect();
    assert!(!has_gps_tag(&meta), "no GPS IFD pointer");
    assert!(!find(&meta, b"GPS"), "no GPS text (XMP)");
    assert!(
        !find(&meta, &[30, 0, 0, 0, 1, 0, 0, 0, 5, 0, 0, 0]),
        "no latitude"
    );
    assert!(
        !find(&out, b"TestCam"),
        "the camera's EXIF block is gone whole"
    );
    // Every other segment kept, in order: JFIF, tables, frame.
    let kept: Vec<u8> = orig_segs
        .iter()
        .filter(|(m, _)| *m != 0xE1)
        .map(|(m, _)| *m)
        .collect();
    let now: Vec<u8> = segs
        .iter()
        .filter(|(m, _)| *m != 0xE1)
        .map(|(m, _)| *m)
        .collect();
    assert_eq!(now, kept);
    assert!(now.contains(&0xC0) && now.contains(&0xDB) && now.contains(&0xC4));
    // The orientation alone came back, so the photo still stands upright.
    let exif: Vec<&(u8, Vec<u8>)> = segs.iter().filter(|(m, _)| *m == 0xE1).collect();
    assert_eq!(exif.len(), 1);
    assert_eq!(read_orientation(&exif[0].1[6..]), Some(6));
    // Stripping again changes nothing.
    assert_eq!(strip_gps(&out).unwrap(), out);
}

#[test]
fn a_jpeg_without_exif_is_kept_as_it_is() {
    let (segs, scan) = segments(GPS_JPEG);
    let mut plain = vec![0xFF, 0xD8];
    for (m, body) in segs.iter().filter(|(m, _)| *m != 0xE1) {
        plain.extend_from_slice(&[0xFF, *m]);
        plain.extend_from_slice(&((body.len() + 2) as u16).to_be_bytes());
        plain.extend_from_slice(body);
    }
    plain.extend_from_slice(&scan);
    assert_eq!(strip_gps(&plain).unwrap(), plain);
}

#[test]
fn gps_is_gone_from_the_png() {
    assert!(has_gps_tag(GPS_PNG) && find(GPS_PNG, b"eXIf"));
    let out = strip_gps(GPS_PNG).unwrap();
    assert_eq!(sniff(&out), Some(ImageType::Png));
    assert!(!find(&out, b"eXIf") && !find(&out, b"iTXt"));
    assert!(!has_gps_tag(&out) && !find(&out, b"GPS"));
    assert!(find(&out, b"IHDR") && find(&out, b"IDAT") && out.ends_with(b"IEND\xaeB`\x82"));
}

fn webp_chunk(kind: &[u8], data: &[u8]) -> Vec<u8> {
    let mut c = kind.to_vec();
    c.extend_from_slice(&(data.len() as u32).to_le_bytes());
    c.extend_from_slice(data);
    if data.len() % 2 == 1 {
        c.push(0);
    }
    c
}

#[test]
fn gps_is_gone_from_a_webp() {
    let tiff = {
        let (segs, _) = segments(GPS_JPEG);
        segs.into_iter()
            .find(|(m, b)| *m == 0xE1 && b.starts_with(b"Exif\0\0"))
            .unwrap()
            .1[6..]
            .to_vec()
    };
    let mut body = b"WEBP".to_vec();
    body.extend(webp_chunk(
        b"VP8X",
        &[0x08 | 0x04, 0, 0, 0, 23, 0, 0, 15, 0, 0],
    ));
    body.extend(webp_chunk(b"VP8L", &[0x2f, 1, 2, 3, 4]));
    body.extend(webp_chunk(b"EXIF", &tiff));
    body.extend(webp_chunk(b"XMP ", b"<x:xmpmeta exif:GPSLatitude='30'/>"));
    let mut file = b"RIFF".to_vec();
    file.extend_from_slice(&(body.len() as u32).to_le_bytes());
    file.extend(body);
    assert_eq!(sniff(&file), Some(ImageType::WebP));
    let out = strip_gps(&file).unwrap();
    assert!(!has_gps_tag(&out) && !find(&out, b"GPS") && !find(&out, b"EXIF"));
    assert!(find(&out, b"VP8L"));
    assert_eq!(out[20] & 0x0C, 0, "VP8X no longer announces EXIF or XMP");
    let size = u32::from_le_bytes([out[4], out[5], out[6], out[7]]) as usize;
    assert_eq!(size, out.len() - 8, "the RIFF size is right");
}

#[test]
fn broken_files_are_refused_not_passed_on() {
    assert_eq!(strip_gps(b"GIF89a"), Err(PhotoError::WrongType));
    assert_eq!(strip_gps(&GPS_JPEG[..40]), Err(PhotoError::Corrupt));
    assert_eq!(
        strip_gps(&[0xFF, 0xD8, 0xFF, 0xD9]),
        Err(PhotoError::Corrupt)
    );
    assert_eq!(strip_gps(&GPS_PNG[..60]), Err(PhotoError::Corrupt));
}

#[test]
fn uploads_are_checked_by_their_bytes_and_the_limit_is_named() {
    assert_eq!(
        check_upload(GPS_JPEG, "image/jpeg", DEFAULT_MAX_BYTES),
        Ok(ImageType::Jpeg)
    );
    assert_eq!(
        check_upload(GPS_JPEG, "image/jpg", 2000),
        Ok(ImageType::Jpeg)
    );
    assert_eq!(check_upload(GPS_PNG, "", 2000), Ok(ImageType::Png));
    assert_eq!(
        check_upload(GPS_PNG, "application/octet-stream", 2000),
        Ok(ImageType::Png)
    );
    assert_eq!(
        check_upload(GPS_JPEG, "image/jpeg; charset=binary", 2000),
        Ok(ImageType::Jpeg)
    );
    let e = check_upload(GPS_JPEG, "image/jpeg", 1000).unwrap_err();
    assert_eq!(e.code(), "too_large");
    assert_eq!(e.to_string(), "照片不能超过1000 字节，这张有2 KB");
    let e = check_upload(
        &vec![0xFF; 11 * 1024 * 1024],
        "image/jpeg",
        DEFAULT_MAX_BYTES,
    )
    .unwrap_err();
    assert_eq!(e.to_string(), "照片不能超过10 MB，这张有11 MB");
    assert_eq!(
        check_upload(b"%PDF-1.7", "image/jpeg", 2000),
        Err(PhotoError::WrongType)
    );
    assert_eq!(
        check_upload(GPS_JPEG, "image/gif", 2000),
        Err(PhotoError::WrongType)
    );
    let e = check_upload(GPS_PNG, "image/jpeg", 2000).unwrap_err();
    assert_eq!(
        e.to_string(),
        "照片的内容是image/png，与声明的类型image/jpeg不符"
    );
    assert_eq!(
        check_upload(b"", "image/jpeg", 2000),
        Err(PhotoError::Empty)
    );
    assert_eq!(e.field(), "photo");
}

#[test]
fn sizes_in_words() {
    assert_eq!(size_text(300), "300 字节");
    assert_eq!(size_text(1024), "1 KB");
    assert_eq!(size_text(1025), "2 KB");
    assert_eq!(size_text(5 * 1024 * 1024), "5 MB");
    assert_eq!(size_text(5 * 1024 * 1024 + 512 * 1024), "5.5 MB");
    assert_eq!(ImageType::Jpeg.mime(), "image/jpeg");
    assert_eq!(ImageType::WebP.extension(), "webp");
}
