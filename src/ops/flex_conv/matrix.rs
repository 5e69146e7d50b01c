//! Matrix products on strided views of slices, by the `gemm` crate (the one flex uses): the
//! only `unsafe` of the convolutions.

/// A matrix inside a slice: `rows × cols` elements at `offset + r·rs + c·cs`.
#[derive(Clone, Copy)]
pub(super) struct View<'a> {
    data: &'a [f32],
    offset: usize,
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
}

impl<'a> View<'a> {
    /// # Panics
    /// If an element lies outside `data` (a bug in the layout, not input).
    pub(super) fn new(
        data: &'a [f32],
        offset: usize,
        [rows, cols]: [usize; 2],
        [rs, cs]: [usize; 2],
    ) -> Self {
        let last = offset + rows.saturating_sub(1) * rs + cols.saturating_sub(1) * cs;
        assert!(
            rows * cols == 0 || last < data.len(),
            "matrix view out of bounds"
        );
        Self {
            data,
            offset,
            rows,
            cols,
            rs,
            cs,
        }
    }
}

/// `dst = lhs · rhs`, or `dst += lhs · rhs` with `accumulate`; `dst` rows `dst_rs` apart.
pub(super) fn product(dst: &mut [f32], dst_rs: usize, accumulate: bool, lhs: View, rhs: View) {
    product_on(dst, dst_rs, accumulate, lhs, rhs, gemm::Parallelism::None)
}

/// [`product`] on `threads`.
pub(super) fn product_on(
    dst: &mut [f32],
    dst_rs: usize,
    accumulate: bool,
    lhs: View,
    rhs: View,
    threads: gemm::Parallelism,
) {
    let (m, k, n) = (lhs.rows, lhs.cols, rhs.cols);
    assert_eq!(rhs.rows, k, "inner dimensions differ");
    assert!(
        m * n == 0 || (m - 1) * dst_rs + n <= dst.len(),
        "product out of bounds"
    );
    if m * n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            dst.chunks_mut(dst_rs)
                .take(m)
                .for_each(|r| r[..n].fill(0.0));
        }
        return;
    }
    // SAFETY: `View::new` and the assertion above keep every element gemm reads or writes
    // inside its slice; `dst` is borrowed mutably, the operands shared.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            dst_rs as isize,
            accumulate,
            lhs.data.as_ptr().add(lhs.offset),
            lhs.cs as isize,
            lhs.rs as isize,
            rhs.data.as_ptr().add(rhs.offset),
            rhs.cs as isize,
            rhs.rs as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            threads,
        );
    }
}
