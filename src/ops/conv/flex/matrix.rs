//! Matrix products on strided views of slices, by the `gemm` crate (the one flex uses), and
//! outputs that tasks on several threads write in place: the `unsafe` of the convolutions.

use std::mem::MaybeUninit;

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
    let (m, n) = (lhs.rows, rhs.cols);
    assert!(
        m * n == 0 || (m - 1) * dst_rs + n <= dst.len(),
        "product out of bounds"
    );
    // SAFETY: the block lies inside `dst` (asserted), which is borrowed mutably and was
    // written before.
    unsafe { product_raw(dst.as_mut_ptr(), dst_rs, accumulate, lhs, rhs, threads) }
}

/// A product's destination that tasks on several threads write at once, each its own rows
/// and columns: a convolution's output written where it lies rather than through tiles
/// copied into place, and not zeroed first.
#[derive(Clone, Copy)]
pub(super) struct SharedDst<'a> {
    ptr: *mut f32,
    len: usize,
    _dst: std::marker::PhantomData<&'a mut [MaybeUninit<f32>]>,
}

// SAFETY: the pointer is only written through `product` and `zero`, whose callers promise
// that no two threads touch the same element.
unsafe impl Send for SharedDst<'_> {}
unsafe impl Sync for SharedDst<'_> {}

impl<'a> SharedDst<'a> {
    pub(super) fn new(dst: &'a mut [MaybeUninit<f32>]) -> Self {
        Self {
            ptr: dst.as_mut_ptr().cast(),
            len: dst.len(),
            _dst: std::marker::PhantomData,
        }
    }

    /// # Panics
    /// If the block of `rows × cols` at `offset`, rows `rs` apart, leaves the destination.
    fn check(&self, offset: usize, [rows, cols]: [usize; 2], rs: usize) {
        assert!(
            rows * cols == 0 || offset + (rows - 1) * rs + cols <= self.len,
            "product out of bounds"
        );
    }

    /// `lhs · rhs` written, or with `accumulate` added, to the block at `offset` whose rows
    /// lie `dst_rs` apart (gemm stores without reading when it does not accumulate), on
    /// `threads`.
    ///
    /// # Safety
    /// No other thread reads or writes the block meanwhile, and with `accumulate` every
    /// element of it was written before.
    pub(super) unsafe fn product(
        &self,
        offset: usize,
        dst_rs: usize,
        accumulate: bool,
        [lhs, rhs]: [View; 2],
        threads: gemm::Parallelism,
    ) {
        self.check(offset, [lhs.rows, rhs.cols], dst_rs);
        // SAFETY: inside the destination (checked); exclusive by the caller's promise.
        unsafe { product_raw(self.ptr.add(offset), dst_rs, accumulate, lhs, rhs, threads) }
    }

    /// The block of `rows × cols` at `offset`, rows `rs` apart, for a kernel to write.
    ///
    /// # Panics
    /// If the block leaves the destination.
    #[cfg(target_arch = "x86_64")]
    pub(super) fn block(&self, offset: usize, [rows, cols]: [usize; 2], rs: usize) -> *mut f32 {
        self.check(offset, [rows, cols], rs);
        self.ptr.wrapping_add(offset)
    }

    /// Zeros on the block of `rows × cols` at `offset`, rows `rs` apart.
    ///
    /// # Safety
    /// No other thread reads or writes the block meanwhile.
    pub(super) unsafe fn zero(&self, offset: usize, [rows, cols]: [usize; 2], rs: usize) {
        self.check(offset, [rows, cols], rs);
        for r in 0..rows {
            // SAFETY: inside the destination (checked); exclusive by the caller's promise.
            unsafe { std::ptr::write_bytes(self.ptr.add(offset + r * rs), 0, cols) }
        }
    }
}

/// `len` values that `fill` writes (through a [`SharedDst`] where tasks share them), never
/// zeroed.
///
/// # Safety
/// `fill` writes every element.
pub(super) unsafe fn filled(len: usize, fill: impl FnOnce(&mut [MaybeUninit<f32>])) -> Vec<f32> {
    let mut out = Vec::with_capacity(len);
    fill(&mut out.spare_capacity_mut()[..len]);
    // SAFETY: every element below `len` was written, by the caller's promise.
    unsafe { out.set_len(len) };
    out
}

/// `dst = lhs · rhs`, or `+=` with `accumulate`, by gemm.
///
/// # Safety
/// The `lhs.rows × rhs.cols` block at `dst`, rows `dst_rs` apart, is valid for writes (and
/// for reads with `accumulate`) and touched by no one else meanwhile.
unsafe fn product_raw(
    dst: *mut f32,
    dst_rs: usize,
    accumulate: bool,
    lhs: View,
    rhs: View,
    threads: gemm::Parallelism,
) {
    let (m, k, n) = (lhs.rows, lhs.cols, rhs.cols);
    assert_eq!(rhs.rows, k, "inner dimensions differ");
    if m * n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for r in 0..m {
                // SAFETY: row `r` of the block, valid by the caller's promise.
                unsafe { std::ptr::write_bytes(dst.add(r * dst_rs), 0, n) }
            }
        }
        return;
    }
    // SAFETY: `View::new` keeps every element gemm reads inside its slice, and the caller
    // every element it writes; the operands are shared borrows.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
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
