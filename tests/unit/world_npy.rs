//! Unit tests of `core/src/world/npy.rs` (moved out of the library: see `tests/unit/mod.rs`).

use botify_sim::world::npy::*;

/// A `.npy` file as NumPy writes it, built by hand.
fn file(version: u8, header: &str, data: &[u8]) -> Vec<u8> {
    let mut bytes = MAGIC.to_vec();
    bytes.extend([version, 0]);
    if version == 1 {
        bytes.extend((header.len() as u16).to_le_bytes());
    } else {
        bytes.extend((header.len() as u32).to_le_bytes());
    }
    bytes.extend(header.as_bytes());
    bytes.extend(data);
    bytes
}

fn bytes_of<const N: usize>(values: &[f32], to: fn(f32) -> [u8; N]) -> Vec<u8> {
    values.iter().flat_map(|&v| to(v)).collect()
}

#[test]
fn reads_each_promised_dtype_order_and_version() {
    let c = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]; // [[1, 2, 3], [4, 5, 6]]
    let le = bytes_of(&c, f32::to_le_bytes);
    let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }          \n";
    let want = Array {
        shape: vec![2, 3],
        values: c.to_vec(),
    };
    assert_eq!(read_f32(&file(1, header, &le)).unwrap(), want);
    assert_eq!(read_f32(&file(2, header, &le)).unwrap(), want);

    let be = bytes_of(&c, f32::to_be_bytes);
    let header = "{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }\n";
    assert_eq!(read_f32(&file(1, header, &be)).unwrap(), want);

    let f8: Vec<u8> = c.iter().flat_map(|&v| (v as f64).to_le_bytes()).collect();
    let header = "{\"descr\": \"<f8\", \"fortran_order\": False, \"shape\": (2, 3)}\n";
    assert_eq!(read_f32(&file(1, header, &f8)).unwrap(), want);

    // Column-major: the columns one after the other.
    let fortran = bytes_of(&[1.0f32, 4.0, 2.0, 5.0, 3.0, 6.0], f32::to_le_bytes);
    let header = "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }\n";
    assert_eq!(read_f32(&file(1, header, &fortran)).unwrap(), want);
}

#[test]
fn fortran_order_of_three_axes_becomes_c_order() {
    let shape = [2, 3, 4];
    let c: Vec<f32> = (0..24).map(|v| v as f32).collect();
    let mut fortran = vec![0.0; 24];
    for i in 0..2 {
        for j in 0..3 {
            for k in 0..4 {
                fortran[i + 2 * j + 6 * k] = c[i * 12 + j * 4 + k];
            }
        }
    }
    assert_eq!(c_order(&shape, &fortran), c);
}

#[test]
fn what_it_writes_it_reads_back_with_numpys_layout() {
    let values: Vec<f32> = (0..12).map(|v| v as f32 * 0.5 - 1.0).collect();
    let mut bytes = Vec::new();
    write_f32(&mut bytes, 4, 3, &values).unwrap();
    let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    assert_eq!((10 + header_len) % 64, 0, "data aligned as NumPy does");
    assert_eq!(bytes[10 + header_len - 1], b'\n');
    assert_eq!(bytes.len(), 10 + header_len + 12 * 4);
    let array = read_f32(&bytes).unwrap();
    assert_eq!(array.shape, [4, 3]);
    assert_eq!(array.values, values);
}

#[test]
fn bad_files_say_what_is_wrong() {
    let le = bytes_of(&[1.0f32; 6], f32::to_le_bytes);
    let ok = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }\n";
    let cases: [(Vec<u8>, &str); 10] = [
        (b"PK\x03\x04 a zip file".to_vec(), "not a .npy file"),
        (file(3, ok, &le), "unsupported .npy version 3.0"),
        (
            file(1, ok, &le[..20]),
            "has 20 bytes but shape [2, 3] of <f4 needs 24",
        ),
        (
            file(1, &ok.replace("<f4", "<i8"), &le),
            "unsupported dtype <i8",
        ),
        (
            file(1, &ok.replace("<f4", ">f8"), &le),
            "unsupported dtype >f8",
        ),
        (file(1, &ok.replace("(2, 3)", "(2, x)"), &le), "dimension"),
        // 2^62 x 4 floats of 4 bytes: 2^66 bytes, 0 once wrapped.
        (
            file(1, &ok.replace("(2, 3)", "(4611686018427387904, 4)"), &[]),
            "shape [4611686018427387904, 4] of <f4 is too large",
        ),
        (
            file(1, "{'descr': '<f4', 'shape': (2, 3), }\n", &le),
            "no 'fortran_order'",
        ),
        (
            file(1, &ok.replace("'shape'", "'shapes'"), &le),
            "unknown key \"shapes\"",
        ),
        (
            {
                let mut cut = file(1, ok, &le);
                cut[8] = 200; // announces a longer header than the file holds
                cut.truncate(60);
                cut
            },
            "cut short",
        ),
    ];
    for (bytes, want) in cases {
        let err = read_f32(&bytes).unwrap_err();
        assert!(err.contains(want), "{err:?} should say {want:?}");
    }
}

#[test]
fn shapes_of_any_rank_parse() {
    let parse = |shape: &str| {
        Header::parse(&format!(
            "{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}"
        ))
        .map(|h| h.shape)
    };
    assert_eq!(parse("()").unwrap(), Vec::<usize>::new());
    assert_eq!(parse("(7,)").unwrap(), [7]);
    assert_eq!(parse("(7, 0, 2)").unwrap(), [7, 0, 2]);
    assert!(parse("(7").is_err());
    assert!(parse("[7, 2]").is_err());
}
