//! Counting the bytes a plugin's result costs the host while wasmtime copies it out.
//!
//! A result is lifted from the guest's memory into host values by wasmtime. Strings and lists
//! inside a result may all point at the same guest bytes, so a plugin with a few MiB of memory can
//! ask the host to copy gigabytes. [`Text`] and [`List`] charge their length to the calling
//! thread's budget *before* they are copied, and fail the lift once the budget is spent.
//!
//! They forward everything else to `String` and `Vec<T>`, through wasmtime's (hidden, but
//! public) canonical-ABI traits; the wasmtime version is pinned exactly in `Cargo.toml` for
//! that reason.

use serde::{Serialize, Serializer};
use std::cell::Cell;
use std::fmt;
use std::mem::MaybeUninit;
use std::ops::Deref;
use wasmtime::component::__internal::{InstanceType, InterfaceType, LiftContext, LowerContext};
use wasmtime::component::{ComponentType, Lift, Lower};

thread_local! {
    /// Bytes the current call may still return; `None` outside a plugin call.
    static REMAINING: Cell<Option<u64>> = const { Cell::new(None) };
    /// Set when a lift on this thread was refused for lack of budget.
    static EXCEEDED: Cell<bool> = const { Cell::new(false) };
}

/// The output budget of one plugin call, active on this thread until dropped.
pub struct OutputBudget(());

impl OutputBudget {
    /// Starts counting the output of a call against `limit` bytes.
    pub fn start(limit: u64) -> OutputBudget {
        REMAINING.with(|remaining| remaining.set(Some(limit)));
        EXCEEDED.with(|exceeded| exceeded.set(false));
        OutputBudget(())
    }

    /// Whether a lift was refused because the output was over the budget.
    pub fn exceeded(&self) -> bool {
        EXCEEDED.with(Cell::get)
    }
}

impl Drop for OutputBudget {
    fn drop(&mut self) {
        REMAINING.with(|remaining| remaining.set(None));
    }
}

/// Takes `bytes` from the active budget, or fails the lift when there are not that many left.
fn charge(bytes: u64) -> wasmtime::Result<()> {
    REMAINING.with(|remaining| match remaining.get() {
        None => Ok(()),
        Some(left) if bytes <= left => {
            remaining.set(Some(left - bytes));
            Ok(())
        }
        Some(_) => {
            EXCEEDED.with(|exceeded| exceeded.set(true));
            Err(wasmtime::format_err!("plugin output is over the output cap"))
        }
    })
}

/// The length field of a canonical-ABI pointer/length pair stored in memory.
fn stored_length(bytes: &[u8]) -> u64 {
    let mut length = [0u8; 4];
    length.copy_from_slice(&bytes[4..8]);
    u64::from(u32::from_le_bytes(length))
}

/// A string exchanged with a plugin; its bytes are charged to the output budget when lifted.
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Text(pub String);

impl Text {
    /// The string inside.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl Deref for Text {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl From<&str> for Text {
    fn from(text: &str) -> Text {
        Text(text.to_string())
    }
}

impl From<String> for Text {
    fn from(text: String) -> Text {
        Text(text)
    }
}

impl Serialize for Text {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

// SAFETY: every item forwards to `String`'s implementation, so the lowered representation,
// ABI and type check are exactly those of `string`.
unsafe impl ComponentType for Text {
    type Lower = <String as ComponentType>::Lower;
    const ABI: wasmtime::component::__internal::CanonicalAbiInfo = <String as ComponentType>::ABI;

    fn typecheck(ty: &InterfaceType, types: &InstanceType<'_>) -> wasmtime::Result<()> {
        <String as ComponentType>::typecheck(ty, types)
    }
}

// SAFETY: forwards to `String`.
unsafe impl Lower for Text {
    fn linear_lower_to_flat<T>(
        &self,
        cx: &mut LowerContext<'_, T>,
        ty: InterfaceType,
        dst: &mut MaybeUninit<Self::Lower>,
    ) -> wasmtime::Result<()> {
        self.0.linear_lower_to_flat(cx, ty, dst)
    }

    fn linear_lower_to_memory<T>(
        &self,
        cx: &mut LowerContext<'_, T>,
        ty: InterfaceType,
        offset: usize,
    ) -> wasmtime::Result<()> {
        self.0.linear_lower_to_memory(cx, ty, offset)
    }
}

// SAFETY: charges the length, then forwards to `String`.
unsafe impl Lift for Text {
    fn linear_lift_from_flat(
        cx: &mut LiftContext<'_>,
        ty: InterfaceType,
        src: &Self::Lower,
    ) -> wasmtime::Result<Self> {
        charge(u64::from(src[1].get_u32()))?;
        String::linear_lift_from_flat(cx, ty, src).map(Text)
    }

    fn linear_lift_from_memory(
        cx: &mut LiftContext<'_>,
        ty: InterfaceType,
        bytes: &[u8],
    ) -> wasmtime::Result<Self> {
        charge(stored_length(bytes))?;
        String::linear_lift_from_memory(cx, ty, bytes).map(Text)
    }
}

/// A list exchanged with a plugin; its elements' host size is charged to the output budget
/// when lifted (and each element charges its own strings and lists).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct List<T>(pub Vec<T>);

impl<T> Default for List<T> {
    fn default() -> Self {
        List(Vec::new())
    }
}

impl<T> List<T> {
    /// The elements inside.
    pub fn into_vec(self) -> Vec<T> {
        self.0
    }
}

impl<T> Deref for List<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.0
    }
}

impl<T> From<Vec<T>> for List<T> {
    fn from(items: Vec<T>) -> List<T> {
        List(items)
    }
}

impl<T: Serialize> Serialize for List<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<T> List<T> {
    /// What `count` elements cost the budget: their size in the host, at least one byte each.
    fn cost(count: u64) -> u64 {
        count.saturating_mul(std::mem::size_of::<T>().max(1) as u64)
    }
}

// SAFETY: every item forwards to `Vec<T>`'s implementation.
unsafe impl<T: ComponentType> ComponentType for List<T> {
    type Lower = <Vec<T> as ComponentType>::Lower;
    const ABI: wasmtime::component::__internal::CanonicalAbiInfo =
        <Vec<T> as ComponentType>::ABI;

    fn typecheck(ty: &InterfaceType, types: &InstanceType<'_>) -> wasmtime::Result<()> {
        <Vec<T> as ComponentType>::typecheck(ty, types)
    }
}

// SAFETY: forwards to `Vec<T>`.
unsafe impl<T: Lower> Lower for List<T> {
    fn linear_lower_to_flat<U>(
        &self,
        cx: &mut LowerContext<'_, U>,
        ty: InterfaceType,
        dst: &mut MaybeUninit<Self::Lower>,
    ) -> wasmtime::Result<()> {
        self.0.linear_lower_to_flat(cx, ty, dst)
    }

    fn linear_lower_to_memory<U>(
        &self,
        cx: &mut LowerContext<'_, U>,
        ty: InterfaceType,
        offset: usize,
    ) -> wasmtime::Result<()> {
        self.0.linear_lower_to_memory(cx, ty, offset)
    }
}

// SAFETY: charges the elements' size, then forwards to `Vec<T>`.
unsafe impl<T: Lift> Lift for List<T> {
    fn linear_lift_from_flat(
        cx: &mut LiftContext<'_>,
        ty: InterfaceType,
        src: &Self::Lower,
    ) -> wasmtime::Result<Self> {
        charge(Self::cost(u64::from(src[1].get_u32())))?;
        Vec::<T>::linear_lift_from_flat(cx, ty, src).map(List)
    }

    fn linear_lift_from_memory(
        cx: &mut LiftContext<'_>,
        ty: InterfaceType,
        bytes: &[u8],
    ) -> wasmtime::Result<Self> {
        charge(Self::cost(stored_length(bytes)))?;
        Vec::<T>::linear_lift_from_memory(cx, ty, bytes).map(List)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_stop_at_the_limit_and_only_inside_a_budget() {
        assert!(charge(u64::MAX).is_ok(), "no budget outside a call");
        let budget = OutputBudget::start(10);
        assert!(charge(6).is_ok());
        assert!(!budget.exceeded());
        assert!(charge(5).is_err());
        assert!(budget.exceeded());
        drop(budget);
        assert!(charge(u64::MAX).is_ok());
    }

    #[test]
    fn list_cost_counts_host_size() {
        assert_eq!(List::<u8>::cost(100), 100);
        assert_eq!(List::<Text>::cost(2), 2 * std::mem::size_of::<Text>() as u64);
        assert_eq!(List::<()>::cost(7), 7);
    }
}
