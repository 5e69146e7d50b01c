//! OpenCV's `GaussianBlur(img, (k, k), 0)`, which tf-cpn uses for its targets and its
//! test-time smoothing: the kernel OpenCV 3/4 derive from the size, and the separable
//! filter with OpenCV's default border (reflect-101).

/// OpenCV's fixed tables (`getGaussianKernel` uses them for sizes 1–7 and σ ≤ 0).
const TABLE_7: [f32; 7] = [
    0.03125, 0.109375, 0.21875, 0.28125, 0.21875, 0.109375, 0.03125,
];
const TABLE_5: [f32; 5] = [0.0625, 0.25, 0.375, 0.25, 0.0625];
const TABLE_3: [f32; 3] = [0.25, 0.5, 0.25];

/// `getGaussianKernel(size, 0)`: the fixed tables up to 7; otherwise σ = 0.3 ((size − 1) / 2
/// − 1) + 0.8, normalised. (OpenCV 5 also tabulates size 9; tf-cpn ran OpenCV 3.)
pub(crate) fn gaussian_kernel(size: usize) -> Vec<f32> {
    match size {
        1 => return vec![1.0],
        3 => return TABLE_3.to_vec(),
        5 => return TABLE_5.to_vec(),
        7 => return TABLE_7.to_vec(),
        _ => {}
    }
    let sigma = 0.3 * ((size as f64 - 1.0) * 0.5 - 1.0) + 0.8;
    let centre = (size / 2) as f64;
    let raw: Vec<f64> = (0..size)
        .map(|i| (-(i as f64 - centre).powi(2) / (2.0 * sigma * sigma)).exp())
        .collect();
    let sum: f64 = raw.iter().sum();
    raw.iter().map(|v| (v / sum) as f32).collect()
}

/// Separable blur of an `[h, w]` map with OpenCV's default border (reflect-101: `-i` reads
/// `i`, `n - 1 + i` reads `n - 1 - i`).
pub(crate) fn blur(values: &[f32], [h, w]: [usize; 2], kernel: &[f32]) -> Vec<f32> {
    let r = kernel.len() / 2;
    // Each axis padded by reflection once, then a plain convolution over the padded line.
    let reflect = |i: i64, n: i64| -> usize {
        if n == 1 {
            return 0;
        }
        let mut i = i;
        while i < 0 || i >= n {
            i = if i < 0 { -i } else { 2 * (n - 1) - i };
        }
        i as usize
    };
    let padded_index = |n: usize| -> Vec<usize> {
        (0..n + 2 * r)
            .map(|p| reflect(p as i64 - r as i64, n as i64))
            .collect()
    };
    let (xs, ys) = (padded_index(w), padded_index(h));
    let mut rows = vec![0.0f32; h * w];
    let mut line = vec![0.0f32; w + 2 * r];
    for y in 0..h {
        let src = &values[y * w..(y + 1) * w];
        for (l, &x) in line.iter_mut().zip(&xs) {
            *l = src[x];
        }
        for (x, out) in rows[y * w..(y + 1) * w].iter_mut().enumerate() {
            *out = line[x..x + kernel.len()]
                .iter()
                .zip(kernel)
                .map(|(v, k)| v * k)
                .sum();
        }
    }
    let mut out = vec![0.0f32; h * w];
    let mut column = vec![0.0f32; h + 2 * r];
    for x in 0..w {
        for (c, &y) in column.iter_mut().zip(&ys) {
            *c = rows[y * w + x];
        }
        for y in 0..h {
            out[y * w + x] = column[y..y + kernel.len()]
                .iter()
                .zip(kernel)
                .map(|(v, k)| v * k)
                .sum();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opencv_s_kernels() {
        let k = gaussian_kernel(21);
        assert!((k.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        // σ 3.5: the centre over its neighbour is exp(1 / 24.5).
        assert!((k[10] / k[11] - (1.0f32 / 24.5).exp()).abs() < 1e-5);
        assert_eq!(gaussian_kernel(7), TABLE_7.to_vec());
    }

    #[test]
    fn the_border_reflects_without_repeating_the_edge() {
        // A one at x = 1 of a 1×4 row under [1, 2, 1] / 4: reflect-101 reads x = 1 for x = −1,
        // so x = 0 gets 1/4 twice (a replicated border would give 1/4 once).
        let out = blur(&[0.0, 1.0, 0.0, 0.0], [1, 4], &[0.25, 0.5, 0.25]);
        assert_eq!(out, vec![0.5, 0.5, 0.25, 0.0]);
    }
}
