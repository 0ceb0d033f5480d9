//! [`Words::Limbs`](super::Words::Limbs): every stack word handled as four 64-bit limbs in
//! place on the interpreter's stack (limb 0 the least significant, as `U256` lays them out).
//!
//! The bitwise operations, ADD, SUB, the unsigned comparisons, EQ and ISZERO are a handful of
//! 64-bit instructions each; the other word operations call arithmetic builtins that work in
//! place on the operand slots, and the direct paths of memory and calldata accesses copy words
//! through a builtin (there is no byte swap in the fast selector). Nothing here
//! needs an `i256` value, so LLVM's fast instruction selector takes every instruction of the
//! function.
//!
//! Between two flushes of the stack length (before every call, check, branch and exit) the
//! emitter keeps the limbs of the items it wrote or read in a cache instead of memory: moves
//! (PUSH, DUP, SWAP, POP, the frame's constants) emit no code, an item is loaded at most once,
//! and at the flush only the items still on the stack are stored; temporaries that died in
//! between never reach memory. This does in the emitter what LLVM's store forwarding and
//! dead-store passes would, so limb code needs no IR pipeline at all.

use super::{CodegenError, Emitter};
use crate::abi::{builtin, field};
use crate::analysis::{Instruction, Operation};
use inkwell::{
    IntPredicate,
    intrinsics::Intrinsic,
    values::{IntValue, PointerValue},
};
use revm::bytecode::opcode as op;

/// The four limbs of a word, least significant first.
pub(super) type Limbs<'ctx> = [IntValue<'ctx>; 4];

impl<'ctx> Emitter<'_, 'ctx> {
    /// Emits one instruction with words as limbs.
    pub(super) fn emit_limb_instruction(&mut self, ins: &Instruction) -> Result<(), CodegenError> {
        debug_assert!(!self.reg, "limb code has no register mode");
        match ins.op {
            Operation::Push(value) => {
                let limbs = value.into_limbs().map(|limb| self.i64.const_int(limb, false));
                self.offset += 1;
                self.store_limbs(0, limbs)
            }
            Operation::Inline => self.emit_limb_inline(ins),
            // The builtin path without the 64-bit division fast path (`Emitter::emit_arith`).
            Operation::Arith => {
                // The builtin reads its operands from memory.
                self.flush_len()?;
                self.emit_arith(ins)
            }
            Operation::Revm => self.emit_revm(ins),
            Operation::RevmRead => self.emit_revm_read(ins),
            // Their direct paths read the operands from memory: `flush_len` stores the cache.
            Operation::Memory => self.emit_memory(ins),
            Operation::CalldataLoad => self.emit_calldataload(ins),
        }
    }

    fn emit_limb_inline(&mut self, ins: &Instruction) -> Result<(), CodegenError> {
        let zero = self.i64.const_zero();
        match ins.opcode {
            op::STOP | op::JUMPDEST | op::POP => self.emit_inline(ins),
            op::PC => self.push_small(self.i64.const_int(ins.pc as u64, false)),
            op::GAS => {
                let gas = self.load_ctx_i64(field::GAS, "gas")?;
                self.push_small(gas)
            }
            op::MSIZE => self.push_small(self.load_ctx_i64(field::MEMORY_LEN, "msize")?),
            op::CALLDATASIZE => self.push_small(self.load_ctx_i64(field::CALLDATA_LEN, "calldatasize")?),
            op::CALLER | op::CALLVALUE | op::ADDRESS => {
                let index = match ins.opcode {
                    op::CALLER => field::CALLER,
                    op::CALLVALUE => field::CALL_VALUE,
                    _ => field::ADDRESS,
                };
                let word = self.ctx_field(index, "frame_constant")?;
                let mut limbs = [zero; 4];
                for (i, limb) in limbs.iter_mut().enumerate() {
                    let address = self.limb(word, i as u64)?;
                    *limb = self.builder.build_load(self.i64, address, "frame_constant")?.into_int_value();
                }
                self.offset += 1;
                self.store_limbs(0, limbs)
            }
            op::DUP1..=op::DUP16 => {
                let value = self.load_limbs((ins.opcode - op::DUP1) as i64)?;
                self.offset += 1;
                self.store_limbs(0, value)
            }
            op::SWAP1..=op::SWAP16 => {
                let n = (ins.opcode - op::SWAP1) as i64 + 1;
                let top = self.load_limbs(0)?;
                let other = self.load_limbs(n)?;
                self.store_limbs(0, other)?;
                self.store_limbs(n, top)
            }
            op::NOT => {
                let x = self.load_limbs(0)?;
                let mut r = x;
                for (i, limb) in x.iter().enumerate() {
                    r[i] = self.builder.build_not(*limb, "not")?;
                }
                self.store_limbs(0, r)
            }
            op::ISZERO => {
                let x = self.load_limbs(0)?;
                let is_zero = self.is_zero(x)?;
                let r = self.builder.build_int_z_extend(is_zero, self.i64, "iszero")?;
                self.store_limbs(0, [r, zero, zero, zero])
            }
            op::AND | op::OR | op::XOR => {
                let (a, b) = (self.load_limbs(0)?, self.load_limbs(1)?);
                let mut r = a;
                for i in 0..4 {
                    r[i] = match ins.opcode {
                        op::AND => self.builder.build_and(a[i], b[i], "and")?,
                        op::OR => self.builder.build_or(a[i], b[i], "or")?,
                        _ => self.builder.build_xor(a[i], b[i], "xor")?,
                    };
                }
                self.offset -= 1;
                self.store_limbs(0, r)
            }
            op::EQ => {
                let (a, b) = (self.load_limbs(0)?, self.load_limbs(1)?);
                let mut difference = a;
                for i in 0..4 {
                    difference[i] = self.builder.build_xor(a[i], b[i], "difference")?;
                }
                let equal = self.is_zero(difference)?;
                let r = self.builder.build_int_z_extend(equal, self.i64, "eq")?;
                self.offset -= 1;
                self.store_limbs(0, [r, zero, zero, zero])
            }
            op::ADD | op::SUB => {
                let (a, b) = (self.load_limbs(0)?, self.load_limbs(1)?);
                let r = self.carry_chain(a, b, ins.opcode == op::SUB)?;
                self.offset -= 1;
                self.store_limbs(0, r)
            }
            op::LT | op::GT => {
                let (a, b) = (self.load_limbs(0)?, self.load_limbs(1)?);
                let (x, y) = if ins.opcode == op::LT { (a, b) } else { (b, a) };
                let less = self.unsigned_less(x, y)?;
                let r = self.builder.build_int_z_extend(less, self.i64, "less")?;
                self.offset -= 1;
                self.store_limbs(0, [r, zero, zero, zero])
            }
            op::MUL | op::SLT | op::SGT | op::BYTE | op::SHL | op::SHR | op::SAR | op::SIGNEXTEND => {
                let index = match ins.opcode {
                    op::MUL => builtin::MUL,
                    op::SLT => builtin::SLT,
                    op::SGT => builtin::SGT,
                    op::BYTE => builtin::BYTE,
                    op::SHL => builtin::SHL,
                    op::SHR => builtin::SHR,
                    op::SAR => builtin::SAR,
                    _ => builtin::SIGNEXTEND,
                };
                self.call_in_place(index, 2)
            }
            op::CLZ => self.call_in_place(builtin::CLZ, 1),
            op::JUMP => {
                let target = self.load_limbs(0)?;
                self.offset -= 1;
                self.flush_len()?;
                self.limb_jump(ins, target)
            }
            op::JUMPI => {
                let target = self.load_limbs(0)?;
                let condition = self.load_limbs(1)?;
                self.offset -= 2;
                self.flush_len()?;
                let not_taken = self.is_zero(condition)?;
                let taken = self.builder.build_not(not_taken, "taken")?;
                let fallthrough = self.edge_to(ins.pc + 1)?;
                let jump = self.context.append_basic_block(self.function, &format!("pc{}_taken", ins.pc));
                self.builder.build_conditional_branch(taken, jump, fallthrough)?;
                self.builder.position_at_end(jump);
                self.limb_jump(ins, target)
            }
            other => unreachable!("not an inline opcode: {other:#x}"),
        }
    }

    /// Calls arithmetic builtin `index` on the top `operands` items in place (its result lands
    /// in the deepest operand's slot). The builtins touch nothing but those slots, so the
    /// block's stack pointer and length stay valid across the call.
    fn call_in_place(&mut self, index: u64, operands: i64) -> Result<(), CodegenError> {
        // The builtin reads its operands from memory, and its result is read back from there.
        self.store_cached_limbs()?;
        let ptr = self.context.ptr_type(Default::default());
        let ty = self.context.void_type().fn_type(&[ptr.into()], false);
        let slots = self.slot(operands - 1)?;
        let f = self.builtin_ptr(index)?;
        self.builder.build_indirect_call(ty, f, &[slots.into()], "")?;
        self.offset -= operands - 1;
        Ok(())
    }

    /// The jump of JUMP or JUMPI (length flushed) to the word `target`.
    fn limb_jump(&mut self, ins: &Instruction, target: Limbs<'ctx>) -> Result<(), CodegenError> {
        if let Some(t) = ins.static_target {
            return self.branch_static(t);
        }
        let b = &self.builder;
        let high = b.build_or(b.build_or(target[1], target[2], "high")?, target[3], "high")?;
        let fits = b.build_int_compare(IntPredicate::EQ, high, self.i64.const_zero(), "fits")?;
        let code_len = self.i64.const_int(self.analysis.code_len as u64, false);
        let below = b.build_int_compare(IntPredicate::ULT, target[0], code_len, "below_code_len")?;
        let in_range = b.build_and(fits, below, "jump_in_range")?;
        let index = b.build_select(in_range, target[0], self.i64.const_all_ones(), "jump_index")?.into_int_value();
        self.dispatch_to(index)
    }

    /// `x - y` (or `x + y` when not `subtract`) modulo 2²⁵⁶, limb by limb with the borrow (or
    /// carry) passed up.
    fn carry_chain(&self, x: Limbs<'ctx>, y: Limbs<'ctx>, subtract: bool) -> Result<Limbs<'ctx>, CodegenError> {
        let name = if subtract { "llvm.usub.with.overflow" } else { "llvm.uadd.with.overflow" };
        let intrinsic = Intrinsic::find(name).expect("overflow intrinsics exist");
        let f = intrinsic.get_declaration(self.module, &[self.i64.into()]).expect("i64 overflow intrinsic");
        let b = &self.builder;
        let step = |l: IntValue<'ctx>, r: IntValue<'ctx>| -> Result<(IntValue<'ctx>, IntValue<'ctx>), CodegenError> {
            let pair = b.build_call(f, &[l.into(), r.into()], "step")?.try_as_basic_value().basic().expect("a pair");
            let pair = pair.into_struct_value();
            let value = b.build_extract_value(pair, 0, "limb")?.into_int_value();
            let carry = b.build_extract_value(pair, 1, "carry")?.into_int_value();
            Ok((value, carry))
        };
        let plain = |l: IntValue<'ctx>, r: IntValue<'ctx>| -> Result<IntValue<'ctx>, CodegenError> {
            Ok(if subtract { b.build_int_sub(l, r, "limb")? } else { b.build_int_add(l, r, "limb")? })
        };
        let (low, mut carry) = step(x[0], y[0])?;
        let mut result = [low, low, low, low];
        for i in 1..3 {
            let (partial, first) = step(x[i], y[i])?;
            let carry_in = b.build_int_z_extend(carry, self.i64, "carry_in")?;
            let (value, second) = step(partial, carry_in)?;
            result[i] = value;
            carry = b.build_or(first, second, "carry_out")?;
        }
        // The top limb's own carry leaves the word.
        let carry_in = b.build_int_z_extend(carry, self.i64, "carry_in")?;
        result[3] = plain(plain(x[3], y[3])?, carry_in)?;
        Ok(result)
    }

    /// `x < y` as unsigned words: decided by the most significant limb that differs.
    fn unsigned_less(&self, x: Limbs<'ctx>, y: Limbs<'ctx>) -> Result<IntValue<'ctx>, CodegenError> {
        let b = &self.builder;
        let mut less = b.build_int_compare(IntPredicate::ULT, x[0], y[0], "less")?;
        for i in 1..4 {
            let limb_less = b.build_int_compare(IntPredicate::ULT, x[i], y[i], "limb_less")?;
            let limb_equal = b.build_int_compare(IntPredicate::EQ, x[i], y[i], "limb_equal")?;
            let below = b.build_and(limb_equal, less, "less_below")?;
            less = b.build_or(limb_less, below, "less")?;
        }
        Ok(less)
    }

    /// Whether all four limbs are zero.
    fn is_zero(&self, x: Limbs<'ctx>) -> Result<IntValue<'ctx>, CodegenError> {
        let b = &self.builder;
        let low = b.build_or(x[0], x[1], "any")?;
        let high = b.build_or(x[2], x[3], "any")?;
        let any = b.build_or(low, high, "any")?;
        Ok(b.build_int_compare(IntPredicate::EQ, any, self.i64.const_zero(), "is_zero")?)
    }

    /// Pushes a word whose high limbs are zero.
    fn push_small(&mut self, value: IntValue<'ctx>) -> Result<(), CodegenError> {
        let zero = self.i64.const_zero();
        self.offset += 1;
        self.store_limbs(0, [value, zero, zero, zero])
    }

    /// The address of limb `index` of the stack item at `position` relative to the block's
    /// stack pointer: one GEP.
    fn limb_address(&self, position: i64, index: i64) -> Result<PointerValue<'ctx>, CodegenError> {
        let position = self.i64.const_int((position * 4 + index) as u64, true);
        // SAFETY: (in the generated IR) a limb of a stack item the section's bounds check
        // covers, so inside the stack buffer.
        Ok(unsafe { self.builder.build_gep(self.i64, self.block_sp, &[position], "limb")? })
    }

    /// The limbs of the stack item `depth` below the top: from the cache, or loaded (once).
    fn load_limbs(&mut self, depth: i64) -> Result<Limbs<'ctx>, CodegenError> {
        let position = self.offset - 1 - depth;
        if let Some((limbs, _)) = self.limb_cache.get(&position) {
            return Ok(*limbs);
        }
        let mut limbs = [self.i64.const_zero(); 4];
        for (i, limb) in limbs.iter_mut().enumerate() {
            let address = self.limb_address(position, i as i64)?;
            *limb = self.builder.build_load(self.i64, address, "limb")?.into_int_value();
        }
        self.limb_cache.insert(position, (limbs, false));
        Ok(limbs)
    }

    /// Sets the stack item `depth` below the top to `limbs`, in the cache.
    fn store_limbs(&mut self, depth: i64, limbs: Limbs<'ctx>) -> Result<(), CodegenError> {
        self.limb_cache.insert(self.offset - 1 - depth, (limbs, true));
        Ok(())
    }

    /// Stores the cached items that changed and are still on the stack (below the current
    /// top), and empties the cache: from here on, memory holds the stack.
    pub(super) fn store_cached_limbs(&mut self) -> Result<(), CodegenError> {
        for (position, limbs) in super::take_live_changes(&mut self.limb_cache, self.offset) {
            for (i, limb) in limbs.into_iter().enumerate() {
                let address = self.limb_address(position, i as i64)?;
                self.builder.build_store(address, limb)?;
            }
        }
        Ok(())
    }
}
