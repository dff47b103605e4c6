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

// What follows the first scan, other metadata segments, progressive scans and broken files
// (the security review: GPS of the MPF images after the primary's EOI reached the public copy).

/// libjpeg's progressive encoding of the same gradient with restart markers (made by
/// `fixtures/make_progressive.py`): 11 scans, a DHT or DRI before most, RSTn in some.
const PROGRESSIVE_JPEG: &[u8] = include_bytes!("../fixtures/progressive.jpg");

/// A JPEG marker segment: marker, length, body.
fn seg(marker: u8, body: &[u8]) -> Vec<u8> {
    let mut s = vec![0xFF, marker];
    s.extend_from_slice(&((body.len() + 2) as u16).to_be_bytes());
    s.extend_from_slice(body);
    s
}

/// Every marker of a JPEG up to its first EOI, in order, with its segment's body (empty for
/// SOI, RSTn and EOI; the scan data is not listed), and where that EOI ends. Walks the scans
/// as T.81 B.1.1.5 has it: in entropy-coded data `FF 00` is a data byte and RSTn part of it.
fn markers(b: &[u8]) -> (Vec<(u8, Vec<u8>)>, usize) {
    assert_eq!(&b[..2], [0xFF, 0xD8], "starts with SOI");
    let mut out = vec![(0xD8, vec![])];
    let mut i = 2;
    loop {
        assert_eq!(b[i], 0xFF, "a marker at {i}");
        let m = b[i + 1];
        if m == 0xD9 {
            out.push((m, vec![]));
            return (out, i + 2);
        }
        let len = usize::from(u16::from_be_bytes([b[i + 2], b[i + 3]]));
        out.push((m, b[i + 4..i + 2 + len].to_vec()));
        i += 2 + len;
        if m == 0xDA {
            while !(b[i] == 0xFF && b[i + 1] != 0x00 && !(0xD0..=0xD7).contains(&b[i + 1])) {
                if b[i] == 0xFF && b[i + 1] != 0x00 {
                    out.push((b[i + 1], vec![]));
                    i += 1;
                }
                i += 1;
            }
        }
    }
}

fn count(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).filter(|w| *w == needle).count()
}

/// The JPEG's markers all from the allowlist, the one Exif segment (if any) the orientation
/// alone, and nothing after the EOI.
fn assert_clean_jpeg(out: &[u8]) {
    let (ms, end) = markers(out);
    assert_eq!(end, out.len(), "the copy ends at its EOI");
    assert_eq!(ms.iter().filter(|(m, _)| *m == 0xD8).count(), 1, "one SOI");
    for (m, body) in &ms {
        let ok = match m {
            0xC8 => false,
            0xC0..=0xDD => true,
            0xE0 => body.starts_with(b"JFIF\0") && body.len() == 14,
            0xE1 => seg(0xE1, body) == orientation_segment(read_orientation(&body[6..]).unwrap()),
            0xE2 => body.starts_with(b"ICC_PROFILE\0"),
            0xEE => body.starts_with(b"Adobe") && body.len() == 12,
            _ => false,
        };
        assert!(ok, "marker {m:#04X} is not one the public copy keeps");
    }
}

/// The Exif APP1 of the GPS fixture: camera, orientation 6, GPS IFD.
fn gps_exif_segment() -> Vec<u8> {
    let (segs, _) = segments(GPS_JPEG);
    let (_, body) = segs
        .into_iter()
        .find(|(m, b)| *m == 0xE1 && b.starts_with(b"Exif\0\0"))
        .unwrap();
    seg(0xE1, &body)
}

/// Where the GPS fixture's JFIF APP0 ends (its other segments follow).
const AFTER_APP0: usize = 2 + 4 + 14;

#[test]
fn nothing_after_the_first_eoi_survives_the_mpf_images_and_their_gps() {
    // The review's repro: `cat gps.jpg gps.jpg`, the second image with its own Exif (GPS IFD,
    // camera) and XMP after the first one's EOI, as a phone's MPF previews and depth maps are.
    let repro = [GPS_JPEG, GPS_JPEG].concat();
    // And as a phone writes it: the primary announces them in an APP2 `MPF` segment.
    let mut primary = GPS_JPEG.to_vec();
    let mpf = seg(
        0xE2,
        b"MPF\0II*\0\x08\0\0\0\x03\0\x00\xb0\x07\0\x04\0\0\0\x30100",
    );
    primary.splice(AFTER_APP0..AFTER_APP0, mpf);
    let phone = [&primary[..], GPS_JPEG, GPS_JPEG].concat();
    let single = strip_gps(GPS_JPEG).unwrap();
    for file in [repro, phone] {
        assert_eq!(
            count(&file, b"Exif\0\0"),
            2 + usize::from(file.len() > 2 * GPS_JPEG.len())
        );
        let out = strip_gps(&file).unwrap();
        assert_eq!(out, single, "the primary image alone, stripped");
        assert!(
            !has_gps_tag(&out),
            "no GPS IFD pointer, in either byte order"
        );
        assert!(
            !find(&out, b"GPS") && !find(&out, b"http://ns.adobe.com/xap/1.0/"),
            "no XMP"
        );
        assert!(!find(&out, b"TestCam") && !find(&out, b"MPF\0"));
        // The only Exif left is the new one holding the orientation alone.
        assert_eq!(count(&out, b"Exif\0\0"), 1);
        assert!(find(&out, &orientation_segment(6)));
        // It ends right after the first EOI: where the primary's scan ends.
        let (_, scan) = segments(GPS_JPEG);
        assert!(out.ends_with(&scan));
        assert_clean_jpeg(&out);
    }
}

#[test]
fn iptc_comments_and_other_app_segments_are_dropped_colour_is_kept() {
    let iptc = seg(
        0xED,
        "Photoshop 3.0\08BIM\x04\x04\0\0\0\0\0\x1c\x1c\x02\x5a\0\x0c武汉市江夏区 30.0912N"
            .as_bytes(),
    );
    let comment = seg(0xFE, b"lat=30.0912 lon=114.9614");
    let icc = seg(0xE2, b"ICC_PROFILE\0\x01\x01(a profile)");
    let adobe = seg(0xEE, b"Adobe\0\x64\0\0\0\0\x01");
    let others = [
        seg(0xE1, b"http://ns.adobe.com/xmp/extension/\0GPS 30.0912N"),
        seg(0xE1, b"FLIR\0GPS"),
        seg(
            0xE0,
            b"JFXX\0\x10\xff\xd8\xff\xe1 an Exif with GPS \xff\xd9",
        ),
        seg(0xE3, b"META GPS"),
        seg(0xEF, b"GPS 30.0912N"),
        seg(0xF1, b"JPEG extension GPS"),
        seg(0xC8, b"reserved GPS"),
        vec![0xFF, 0x01], // TEM
    ]
    .concat();
    let mut file = GPS_JPEG.to_vec();
    let (_, scan) = segments(GPS_JPEG);
    let sos = GPS_JPEG.len() - scan.len();
    // A comment between the tables and the scan too.
    file.splice(sos..sos, comment.clone());
    file.splice(
        AFTER_APP0..AFTER_APP0,
        [&iptc[..], &comment, &icc, &others, &adobe].concat(),
    );
    let out = strip_gps(&file).unwrap();
    assert!(!find(&out, b"30.0912") && !find(&out, "武汉".as_bytes()) && !find(&out, b"GPS"));
    assert!(!find(&out, b"Photoshop") && !find(&out, b"8BIM") && !find(&out, b"JFXX"));
    let (ms, _) = markers(&out);
    assert!(!ms
        .iter()
        .any(|(m, _)| matches!(m, 0xED | 0xFE | 0xE3 | 0xEF | 0xF1 | 0xC8 | 0x01)));
    // What a decoder needs for colour stays, byte for byte, where it was (before the
    // camera's Exif, whose place the orientation takes).
    let mut expected = strip_gps(GPS_JPEG).unwrap();
    expected.splice(AFTER_APP0..AFTER_APP0, [&icc[..], &adobe].concat());
    assert_eq!(out, expected);
    assert_clean_jpeg(&out);
}

#[test]
fn trailing_data_after_the_eoi_is_dropped() {
    let single = strip_gps(GPS_JPEG).unwrap();
    for tail in [
        &b"GPS 30.0912N 114.9614E"[..],
        b"\xff\xe1\x00\x10Exif\0\0MM\0*\0\0\0\x08",
        b"\0\0\0\0",
        b"\xff",
    ] {
        let out = strip_gps(&[GPS_JPEG, tail].concat()).unwrap();
        assert_eq!(out, single);
    }
}

#[test]
fn a_progressive_jpeg_is_walked_scan_by_scan_and_kept_whole() {
    let (ms, end) = markers(PROGRESSIVE_JPEG);
    assert_eq!(end, PROGRESSIVE_JPEG.len());
    let sos: Vec<usize> = (0..ms.len()).filter(|&k| ms[k].0 == 0xDA).collect();
    assert!(sos.len() >= 2, "several scans");
    assert!(
        ms[sos[0]..sos[1]].iter().any(|(m, _)| *m == 0xC4),
        "a DHT between the first two scans"
    );
    assert!(
        ms.iter().any(|(m, _)| (0xD0..=0xD7).contains(m)),
        "RSTn in a scan"
    );
    assert_eq!(
        ms[1..5].iter().map(|(m, _)| *m).collect::<Vec<_>>(),
        [0xE0, 0xDB, 0xDB, 0xC2]
    );
    // Nothing in it to drop: the copy is the file.
    assert_eq!(strip_gps(PROGRESSIVE_JPEG).unwrap(), PROGRESSIVE_JPEG);

    // With a phone's metadata before the frame, between the scans and after the EOI, the
    // copy is the file again with the orientation alone added.
    let (_, head_len) = {
        let (segs, _) = segments(PROGRESSIVE_JPEG);
        let app0 = &segs[0];
        assert_eq!(app0.0, 0xE0);
        ((), 2 + 4 + app0.1.len())
    };
    let mut second_scan = 2;
    for (k, (m, body)) in ms.iter().enumerate().skip(1) {
        // Walk to where the marker after the first scan starts.
        if k == sos[0] + 1 {
            break;
        }
        second_scan = if *m == 0xDA {
            let mut i = second_scan + 4 + body.len();
            while !(PROGRESSIVE_JPEG[i] == 0xFF
                && PROGRESSIVE_JPEG[i + 1] != 0
                && !(0xD0..=0xD7).contains(&PROGRESSIVE_JPEG[i + 1]))
            {
                i += 1;
            }
            i
        } else {
            second_scan + 4 + body.len()
        };
    }
    assert_eq!(PROGRESSIVE_JPEG[second_scan], 0xFF);
    assert_eq!(PROGRESSIVE_JPEG[second_scan + 1], ms[sos[0] + 1].0);
    let mut file = PROGRESSIVE_JPEG.to_vec();
    file.splice(
        second_scan..second_scan,
        [
            seg(0xFE, b"GPS between scans"),
            seg(0xED, b"Photoshop 3.0\0GPS"),
            gps_exif_segment(),
            vec![0xFF, 0xFF, 0xFF], // fill bytes before the next marker
        ]
        .concat(),
    );
    file.splice(
        head_len..head_len,
        [
            gps_exif_segment(),
            seg(0xE1, b"http://ns.adobe.com/xap/1.0/\0GPS"),
        ]
        .concat(),
    );
    file.extend_from_slice(GPS_JPEG);
    let out = strip_gps(&file).unwrap();
    let mut expected = PROGRESSIVE_JPEG.to_vec();
    expected.splice(head_len..head_len, orientation_segment(6));
    assert_eq!(out, expected);
    assert!(!find(&out, b"GPS") && !has_gps_tag(&out));
    assert_clean_jpeg(&out);
}

#[test]
fn stuffed_bytes_restart_markers_and_fill_bytes_in_a_scan() {
    let (segs, _) = segments(GPS_JPEG);
    let mut head = vec![0xFF, 0xD8];
    for (m, body) in segs.iter().filter(|(m, _)| *m != 0xE1) {
        head.extend(seg(*m, body));
    }
    let sos = seg(0xDA, &[1, 1, 0x00, 0, 0x3F, 0]);
    // `FF 00` is a data byte, even when what follows looks like a marker code; RSTn are data.
    let data: &[u8] = &[
        0x12, 0xFF, 0x00, 0xE1, 0xFF, 0xD0, 0x34, 0xFF, 0x00, 0xFF, 0x00, 0xFF, 0xD7, 0x56,
    ];
    let kept = [&head[..], &sos, data, &[0xFF, 0xD9]].concat();
    assert_eq!(strip_gps(&kept).unwrap(), kept);
    // Fill bytes before the EOI are not copied; the EOI is.
    let filled = [&head[..], &sos, data, &[0xFF, 0xFF, 0xFF, 0xD9]].concat();
    assert_eq!(strip_gps(&filled).unwrap(), kept);
    // A second scan after a DHT between them.
    let dht = segs.iter().find(|(m, _)| *m == 0xC4).unwrap();
    let two = [
        &head[..],
        &sos,
        data,
        &seg(0xC4, &dht.1),
        &sos,
        data,
        &[0xFF, 0xD9],
    ]
    .concat();
    assert_eq!(strip_gps(&two).unwrap(), two);
    // Ending in a stuffed byte, a RST or a lone 0xFF: no EOI.
    for cut in [&[0xFF, 0x00][..], &[0xFF, 0xD3], &[0xFF]] {
        let broken = [&head[..], &sos, data, cut].concat();
        assert_eq!(strip_gps(&broken), Err(PhotoError::Corrupt));
    }
}

/// The WebP of the existing test: VP8X announcing EXIF and XMP, a lossless image, both.
fn gps_webp() -> Vec<u8> {
    let tiff = gps_exif_segment()[10..].to_vec();
    webp_file(&[
        webp_chunk(b"VP8X", &[0x08 | 0x04, 0, 0, 0, 23, 0, 0, 15, 0, 0]),
        webp_chunk(b"VP8L", &[0x2f, 1, 2, 3, 4]),
        webp_chunk(b"EXIF", &tiff),
        webp_chunk(b"XMP ", b"<x:xmpmeta exif:GPSLatitude='30'/>"),
    ])
}

fn webp_file(chunks: &[Vec<u8>]) -> Vec<u8> {
    let body = [&b"WEBP"[..], &chunks.concat()].concat();
    [&b"RIFF"[..], &(body.len() as u32).to_le_bytes(), &body].concat()
}

#[test]
fn cut_short_or_overrunning_files_are_refused_not_panicked_on() {
    for (name, file) in [
        ("jpeg", GPS_JPEG.to_vec()),
        ("progressive", PROGRESSIVE_JPEG.to_vec()),
        ("png", GPS_PNG.to_vec()),
        ("webp", gps_webp()),
    ] {
        assert!(strip_gps(&file).is_ok());
        for n in 0..file.len() {
            let r = strip_gps(&file[..n]);
            assert!(r.is_err(), "{name} cut to {n} bytes: {r:?}");
        }
    }
    // A segment length past the end, or below its own 2 bytes.
    let mut long = GPS_JPEG.to_vec();
    long[4..6].copy_from_slice(&[0xFF, 0xFF]);
    assert_eq!(strip_gps(&long), Err(PhotoError::Corrupt));
    let mut short = GPS_JPEG.to_vec();
    short[4..6].copy_from_slice(&[0, 1]);
    assert_eq!(strip_gps(&short), Err(PhotoError::Corrupt));
    // No marker where one must be; a second SOI; a scan before any frame; RST outside a scan.
    for bad in [
        &[0xFF, 0xD8, 0xFF, 0xDB, 0, 2, 0x00, 0xFF, 0xD9][..],
        &[0xFF, 0xD8, 0xFF, 0xD8, 0xFF, 0xD9],
        &[0xFF, 0xD8, 0xFF, 0xDA, 0, 2, 0x12, 0xFF, 0xD9],
        &[0xFF, 0xD8, 0xFF, 0xD0, 0xFF, 0xD9],
        &[0xFF, 0xD8, 0xFF, 0x00, 0xFF, 0xD9],
        &[0xFF, 0xD8, 0xFF],
        &[0xFF, 0xD8, 0xFF, 0xFF, 0xFF],
    ] {
        assert_eq!(strip_gps(bad), Err(PhotoError::Corrupt), "{bad:02X?}");
    }
    // PNG: a chunk length past the end (and one that would overflow).
    for len in [0x7FFF_FFFFu32, u32::MAX] {
        let mut png = GPS_PNG.to_vec();
        png[8..12].copy_from_slice(&len.to_be_bytes());
        assert_eq!(strip_gps(&png), Err(PhotoError::Corrupt));
    }
    // WebP: a RIFF size past the end, a chunk past the RIFF size, no image at all.
    let mut webp = gps_webp();
    webp[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(strip_gps(&webp), Err(PhotoError::Corrupt));
    let mut webp = gps_webp();
    webp[16..20].copy_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(strip_gps(&webp), Err(PhotoError::Corrupt));
    let empty = webp_file(&[webp_chunk(b"EXIF", b"II*\0")]);
    assert_eq!(strip_gps(&empty), Err(PhotoError::Corrupt));
}

/// A PNG chunk (the CRC is not checked by the stripper; zeros here).
fn png_chunk(kind: &[u8], data: &[u8]) -> Vec<u8> {
    [
        &(data.len() as u32).to_be_bytes()[..],
        kind,
        data,
        &[0, 0, 0, 0],
    ]
    .concat()
}

#[test]
fn a_png_keeps_only_its_image_chunks_and_ends_at_iend() {
    let single = strip_gps(GPS_PNG).unwrap();
    let ihdr_end = 8 + 12 + 13;
    let mut file = GPS_PNG.to_vec();
    let extra = [
        png_chunk(b"tEXt", b"Comment\0GPS 30.0912N"),
        png_chunk(b"zTXt", b"Location\0\0x\x9c"),
        png_chunk(b"tIME", &[7, 234, 12, 3, 19, 0, 0]),
        png_chunk(b"prVt", b"GPS 30.0912N"),
        png_chunk(b"caBX", b"GPS"),
    ]
    .concat();
    let phys = png_chunk(b"pHYs", &[0, 0, 0x0B, 0x13, 0, 0, 0x0B, 0x13, 1]);
    file.splice(ihdr_end..ihdr_end, [&extra[..], &phys].concat());
    file.extend_from_slice(&png_chunk(b"eXIf", b"MM\0*GPS"));
    file.extend_from_slice(b"trailing GPS 30.0912N");
    let out = strip_gps(&file).unwrap();
    let mut expected = single.clone();
    expected.splice(ihdr_end..ihdr_end, phys);
    assert_eq!(out, expected);
    assert!(!find(&out, b"GPS") && !find(&out, b"tIME") && out.ends_with(b"IEND\xaeB`\x82"));
    assert_eq!(strip_gps(&out).unwrap(), out);
}

#[test]
fn a_webp_keeps_only_its_image_chunks_within_its_riff_size() {
    let clean = strip_gps(&gps_webp()).unwrap();
    let mut file = gps_webp();
    file.splice(
        file.len()..file.len(),
        [
            webp_chunk(b"ICCP", b"(a profile)"),
            webp_chunk(b"GPSX", b"30.0912N"),
        ]
        .concat(),
    );
    let body_len = (file.len() - 8) as u32;
    file[4..8].copy_from_slice(&body_len.to_le_bytes());
    // After the RIFF size: another chunk that is not the file's.
    file.extend(webp_chunk(b"EXIF", b"GPS 30.0912N"));
    let out = strip_gps(&file).unwrap();
    let expected = {
        let mut e = clean.clone();
        e.extend(webp_chunk(b"ICCP", b"(a profile)"));
        let n = (e.len() - 8) as u32;
        e[4..8].copy_from_slice(&n.to_le_bytes());
        e
    };
    assert_eq!(out, expected);
    assert!(!find(&out, b"GPS") && !find(&out, b"EXIF") && !find(&out, b"XMP "));
    assert_eq!(out[20] & 0x0C, 0);
    assert_eq!(strip_gps(&out).unwrap(), out);
}

mod never_panics {
    use super::*;
    use proptest::collection::vec;
    use proptest::prelude::*;

    fn fixtures() -> [Vec<u8>; 4] {
        [
            GPS_JPEG.to_vec(),
            PROGRESSIVE_JPEG.to_vec(),
            GPS_PNG.to_vec(),
            gps_webp(),
        ]
    }

    proptest! {
        #[test]
        fn on_arbitrary_bytes(magic in 0usize..4, bytes in vec(any::<u8>(), 0..4096)) {
            // Behind each magic number, so every parser is reached.
            let mut file = match magic {
                0 => vec![],
                1 => vec![0xFF, 0xD8, 0xFF],
                2 => b"\x89PNG\r\n\x1a\n".to_vec(),
                _ => [&b"RIFF"[..], &((bytes.len() + 4) as u32).to_le_bytes(), b"WEBP"].concat(),
            };
            file.extend(bytes);
            let _ = strip_gps(&file);
            let _ = check_upload(&file, "image/jpeg", DEFAULT_MAX_BYTES);
        }

        #[test]
        fn on_damaged_photos_and_what_passes_is_clean(
            which in 0usize..4,
            edits in vec((any::<usize>(), any::<u8>()), 1..6),
            cut in any::<usize>(),
            tail in vec(any::<u8>(), 0..64),
        ) {
            let mut file = fixtures()[which].clone();
            let n = file.len();
            for (at, v) in edits {
                file[at % n] = v;
            }
            if cut % 3 == 0 {
                file.truncate(cut % n);
            }
            file.extend(tail);
            if let Ok(out) = strip_gps(&file) {
                prop_assert_eq!(strip_gps(&out), Ok(out.clone()), "stripping again changes nothing");
                if sniff(&out) == Some(ImageType::Jpeg) {
                    assert_clean_jpeg(&out);
                }
            }
        }
    }
}
