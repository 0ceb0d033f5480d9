//! Opcode-specific code generation.

use super::{CodegenError, Emitter};
use crate::abi::{ExitStatus, OFFSET_BEYOND_32_BITS, builtin, field};
use crate::analysis::Instruction;
use inkwell::{
    IntPredicate,
    basic_block::BasicBlock,
    intrinsics::Intrinsic,
    values::{BasicValue, BasicValueEnum, IntValue, PointerValue},
};
use revm::bytecode::opcode as op;
use revm::primitives::U256;

/// What [`Emitter::branch_on_window`] built: the operand's slot, its low limb and whether
/// the word fits in 32 bits, the direct path's address, and the blocks the caller fills and
/// joins.
struct Window<'ctx> {
    offset_slot: PointerValue<'ctx>,
    offset: IntValue<'ctx>,
    fits: IntValue<'ctx>,
    address: PointerValue<'ctx>,
    done: BasicBlock<'ctx>,
    fallback: BasicBlock<'ctx>,
}

/// A stack operand as the emitter held it before the flush that precedes a memory access:
/// what the flush stored, known without reading it back from the stack.
#[derive(Clone, Copy)]
enum HeldWord<'ctx> {
    /// Memory mode's `i256` value.
    Wide(IntValue<'ctx>),
    /// Limb code's four limbs.
    Limbs(super::limbs::Limbs<'ctx>),
}

impl<'ctx> Emitter<'_, 'ctx> {
    /// The stack item `depth` below the top, if the current section holds it in its cache
    /// (see `word_cache` and `limb_cache`). Read before a flush empties the cache.
    fn held_word(&self, depth: i64) -> Option<HeldWord<'ctx>> {
        let position = self.offset - 1 - depth;
        if self.limbs {
            self.limb_cache.get(&position).map(|&(limbs, _)| HeldWord::Limbs(limbs))
        } else {
            self.word_cache.get(&position).map(|&(value, _)| HeldWord::Wide(value))
        }
    }

    /// Opcodes computed inline.
    pub(super) fn emit_inline(&mut self, ins: &Instruction) -> Result<(), CodegenError> {
        match ins.opcode {
            op::STOP => {
                self.flush_len()?;
                if self.reg {
                    self.spill()?;
                }
                self.exit_with(ExitStatus::Stop)
            }
            op::JUMPDEST => Ok(()),
            op::POP => {
                self.offset -= 1;
                Ok(())
            }
            op::PC => self.push(self.word.const_int(ins.pc as u64, false)),
            op::GAS => {
                let gas = if self.reg {
                    self.builder.build_load(self.i64, self.gas_slot, "gas")?.into_int_value()
                } else {
                    self.load_ctx_i64(crate::abi::field::GAS, "gas")?
                };
                let gas = self.builder.build_int_z_extend(gas, self.word, "gas_word")?;
                self.push(gas)
            }
            op::MSIZE => self.push_ctx_length(field::MEMORY_LEN),
            op::CALLDATASIZE => self.push_ctx_length(field::CALLDATA_LEN),
            op::CALLER => self.push_ctx_word(field::CALLER),
            op::CALLVALUE => self.push_ctx_word(field::CALL_VALUE),
            op::ADDRESS => self.push_ctx_word(field::ADDRESS),
            op::DUP1..=op::DUP16 => {
                let n = (ins.opcode - op::DUP1) as i64;
                let v = self.load(n)?;
                self.push(v)
            }
            op::SWAP1..=op::SWAP16 => {
                let n = (ins.opcode - op::SWAP1) as i64 + 1;
                let top = self.load(0)?;
                let other = self.load(n)?;
                self.store(0, other)?;
                self.store(n, top)
            }
            op::ISZERO | op::NOT | op::CLZ => {
                let x = self.load(0)?;
                let r = self.unary(ins.opcode, x)?;
                self.store(0, r)
            }
            op::JUMP => self.emit_jump(ins),
            op::JUMPI => self.emit_jumpi(ins),
            _ => {
                let a = self.load(0)?;
                let b = self.load(1)?;
                let r = self.binary(ins.opcode, a, b)?;
                self.offset -= 1;
                self.store(0, r)
            }
        }
    }

    /// Pushes a length the context holds as a u64 (MSIZE, CALLDATASIZE).
    fn push_ctx_length(&mut self, index: u64) -> Result<(), CodegenError> {
        if self.reg {
            // Register-mode blocks do not load the context pointer at their start.
            self.reload_ctx()?;
        }
        let len = self.load_ctx_i64(index, "length")?;
        let len = self.builder.build_int_z_extend(len, self.word, "length_word")?;
        self.push(len)
    }

    /// Pushes one of the frame's constant words the context holds (CALLER, CALLVALUE, ADDRESS).
    fn push_ctx_word(&mut self, index: u64) -> Result<(), CodegenError> {
        if self.reg {
            self.reload_ctx()?;
        }
        let address = self.ctx_field(index, "frame_constant")?;
        let value = self.builder.build_load(self.word, address, "frame_constant")?;
        value.as_instruction_value().expect("load").set_alignment(8).expect("valid alignment");
        self.push(value.into_int_value())
    }

    fn push(&mut self, value: IntValue<'ctx>) -> Result<(), CodegenError> {
        self.offset += 1;
        self.store(0, value)
    }

    fn unary(&self, opcode: u8, x: IntValue<'ctx>) -> Result<IntValue<'ctx>, CodegenError> {
        let b = &self.builder;
        Ok(match opcode {
            op::ISZERO => {
                let z = b.build_int_compare(IntPredicate::EQ, x, self.word.const_zero(), "iszero")?;
                b.build_int_z_extend(z, self.word, "iszero_word")?
            }
            op::NOT => b.build_not(x, "not")?,
            op::CLZ => {
                let ctlz = Intrinsic::find("llvm.ctlz").expect("llvm.ctlz exists");
                let f = ctlz.get_declaration(self.module, &[self.word.into()]).expect("ctlz.i256");
                let is_poison = self.context.bool_type().const_zero();
                b.build_call(f, &[x.into(), is_poison.into()], "clz")?
                    .try_as_basic_value()
                    .basic()
                    .expect("ctlz returns a value")
                    .into_int_value()
            }
            _ => unreachable!("not a unary opcode: {opcode:#x}"),
        })
    }

    /// Binary opcodes; `a` is the top of the stack, `b` the item below.
    fn binary(&self, opcode: u8, a: IntValue<'ctx>, b: IntValue<'ctx>) -> Result<IntValue<'ctx>, CodegenError> {
        let bd = &self.builder;
        let w = self.word;
        let cmp = |pred, name| -> Result<IntValue<'ctx>, CodegenError> {
            let c = bd.build_int_compare(pred, a, b, name)?;
            Ok(bd.build_int_z_extend(c, w, name)?)
        };
        let c256 = w.const_int(256, false);
        Ok(match opcode {
            op::ADD => bd.build_int_add(a, b, "add")?,
            op::SUB => bd.build_int_sub(a, b, "sub")?,
            op::MUL => bd.build_int_mul(a, b, "mul")?,
            op::LT => cmp(IntPredicate::ULT, "lt")?,
            op::GT => cmp(IntPredicate::UGT, "gt")?,
            op::SLT => cmp(IntPredicate::SLT, "slt")?,
            op::SGT => cmp(IntPredicate::SGT, "sgt")?,
            op::EQ => cmp(IntPredicate::EQ, "eq")?,
            op::AND => bd.build_and(a, b, "and")?,
            op::OR => bd.build_or(a, b, "or")?,
            op::XOR => bd.build_xor(a, b, "xor")?,
            op::BYTE => {
                // Byte `a` of `b`, counting from the most significant; 0 when a >= 32.
                let in_range = bd.build_int_compare(IntPredicate::ULT, a, w.const_int(32, false), "byte_in_range")?;
                let index = bd.build_select(in_range, a, w.const_zero(), "byte_index")?.into_int_value();
                let shift = bd.build_int_mul(
                    bd.build_int_sub(w.const_int(31, false), index, "rev")?,
                    w.const_int(8, false),
                    "shift",
                )?;
                let shifted = bd.build_right_shift(b, shift, false, "shifted")?;
                let byte = bd.build_and(shifted, w.const_int(0xff, false), "byte")?;
                bd.build_select(in_range, byte, w.const_zero(), "byte")?.into_int_value()
            }
            op::SHL | op::SHR => {
                // `a` is the shift, `b` the value; a shift of 256 or more gives 0.
                let in_range = bd.build_int_compare(IntPredicate::ULT, a, c256, "shift_in_range")?;
                let shift = bd.build_select(in_range, a, w.const_zero(), "shift")?.into_int_value();
                let shifted = if opcode == op::SHL {
                    bd.build_left_shift(b, shift, "shl")?
                } else {
                    bd.build_right_shift(b, shift, false, "shr")?
                };
                bd.build_select(in_range, shifted, w.const_zero(), "shift_result")?.into_int_value()
            }
            op::SAR => {
                // An arithmetic shift by 255 already fills every bit with the sign.
                let in_range = bd.build_int_compare(IntPredicate::ULT, a, c256, "shift_in_range")?;
                let shift = bd.build_select(in_range, a, w.const_int(255, false), "shift")?.into_int_value();
                bd.build_right_shift(b, shift, true, "sar")?
            }
            op::SIGNEXTEND => {
                // Extend the sign of byte `a` (from the least significant) of `b`; `a` >= 31
                // leaves `b` unchanged.
                let extend = bd.build_int_compare(IntPredicate::ULT, a, w.const_int(31, false), "extend")?;
                let index = bd.build_select(extend, a, w.const_zero(), "index")?.into_int_value();
                let bits = bd.build_int_mul(
                    bd.build_int_add(index, w.const_int(1, false), "bytes")?,
                    w.const_int(8, false),
                    "bits",
                )?;
                let shift = bd.build_int_sub(c256, bits, "shift")?;
                let up = bd.build_left_shift(b, shift, "up")?;
                let down = bd.build_right_shift(up, shift, true, "down")?;
                bd.build_select(extend, down, b, "signextend")?.into_int_value()
            }
            _ => unreachable!("not an inline binary opcode: {opcode:#x}"),
        })
    }

    /// DIV/SDIV/MOD/SMOD/ADDMOD/MULMOD through a Rust builtin working in place. DIV, SDIV,
    /// MOD and SMOD first try a 64-bit path (see [`Emitter::division_fast_path`]).
    pub(super) fn emit_arith(&mut self, ins: &Instruction) -> Result<(), CodegenError> {
        let (index, operands) = match ins.opcode {
            op::DIV => (builtin::DIV, 2),
            op::SDIV => (builtin::SDIV, 2),
            op::MOD => (builtin::MOD, 2),
            op::SMOD => (builtin::SMOD, 2),
            op::ADDMOD => (builtin::ADDMOD, 3),
            op::MULMOD => (builtin::MULMOD, 3),
            other => unreachable!("not an arithmetic builtin: {other:#x}"),
        };
        if self.reg {
            // The context pointer is reloaded before any branch, so that it dominates the code
            // after the merge.
            self.reload_ctx()?;
        } else {
            // The builtin works on the stack in memory.
            self.flush_len()?;
        }
        let fast = match ins.opcode {
            op::DIV | op::SDIV | op::MOD | op::SMOD if !self.limbs => Some(self.division_fast_path(ins)?),
            _ => None,
        };
        let result = self.call_arith_builtin(index, operands)?;
        self.offset -= operands - 1;
        let Some((fast_block, fast_result)) = fast else {
            return match result {
                Some(r) => self.store(0, r),
                None => self.fresh_after_call(),
            };
        };
        let slow_block = self.builder.get_insert_block().expect("positioned");
        let done = self.context.append_basic_block(self.function, &format!("pc{}_div_done", ins.pc));
        self.builder.build_unconditional_branch(done)?;
        self.builder.position_at_end(fast_block);
        self.builder.build_unconditional_branch(done)?;
        self.builder.position_at_end(done);
        match result {
            Some(slow_result) => {
                let phi = self.builder.build_phi(self.word, "div")?;
                phi.add_incoming(&[(&fast_result, fast_block), (&slow_result, slow_block)]);
                self.store(0, phi.as_basic_value().into_int_value())
            }
            None => {
                // Memory mode: the fast path stored its result where the builtin writes.
                self.fresh_after_call()
            }
        }
    }

    /// Calls arithmetic builtin `index` on the top `operands` items, in place: returns the
    /// result in register mode (where the builtin works on a scratch copy), `None` in memory
    /// mode (where it wrote the result into the stack).
    fn call_arith_builtin(&mut self, index: u64, operands: i64) -> Result<Option<IntValue<'ctx>>, CodegenError> {
        let ty = self.context.void_type().fn_type(&[self.context.ptr_type(Default::default()).into()], false);
        if self.reg {
            // The builtin works on memory: hand it the operands in a scratch buffer of this
            // function, so the stack items stay in SSA values.
            for i in 0..operands {
                let v = self.load(operands - 1 - i)?;
                // SAFETY: (in the generated IR) `i` < 3, within the three-slot scratch alloca.
                let dst = unsafe {
                    self.builder.build_gep(self.word, self.scratch, &[self.i64.const_int(i as u64, false)], "arg")?
                };
                self.builder.build_store(dst, v)?;
            }
            let f = self.builtin_ptr(index)?;
            self.builder.build_indirect_call(ty, f, &[self.scratch.into()], "")?;
            return Ok(Some(self.builder.build_load(self.word, self.scratch, "arith")?.into_int_value()));
        }
        let slots = self.slot(operands - 1)?;
        let f = self.builtin_ptr(index)?;
        self.builder.build_indirect_call(ty, f, &[slots.into()], "")?;
        Ok(None)
    }

    /// The 64-bit path of DIV, SDIV, MOD and SMOD: when both operands fit in 64 bits (as
    /// unsigned values, or sign-extended from 64 bits for the signed opcodes) and the divisor
    /// is not zero, one machine division gives the EVM's result; otherwise the builtin's
    /// 256-bit division runs. Amounts, indices, timestamps and fixed-point values with small
    /// scales fit; the builtin and its 256-bit long division cost tens of times more.
    /// `i64::MIN / -1`, which overflows a machine division (and traps on x86), takes the
    /// builtin. Emits the test and the fast block; returns that block and its result (the
    /// fast block still needs its branch, and in memory mode has stored the result where the
    /// builtin writes it) and leaves the builder in the block of the builtin path.
    fn division_fast_path(&mut self, ins: &Instruction) -> Result<(BasicBlock<'ctx>, IntValue<'ctx>), CodegenError> {
        let signed = matches!(ins.opcode, op::SDIV | op::SMOD);
        let (a, b) = (self.load(0)?, self.load(1)?);
        let bd = &self.builder;
        let (a64, b64) = (bd.build_int_truncate(a, self.i64, "a64")?, bd.build_int_truncate(b, self.i64, "b64")?);
        let fits = |x: IntValue<'ctx>, x64: IntValue<'ctx>, name: &str| -> Result<IntValue<'ctx>, CodegenError> {
            let back = if signed {
                bd.build_int_s_extend(x64, self.word, name)?
            } else {
                bd.build_int_z_extend(x64, self.word, name)?
            };
            Ok(bd.build_int_compare(IntPredicate::EQ, back, x, name)?)
        };
        let both_fit = bd.build_and(fits(a, a64, "a_fits")?, fits(b, b64, "b_fits")?, "fit")?;
        let nonzero = bd.build_int_compare(IntPredicate::NE, b64, self.i64.const_zero(), "nonzero")?;
        let mut ok = bd.build_and(both_fit, nonzero, "fast_ok")?;
        if signed {
            let min = bd.build_int_compare(IntPredicate::EQ, a64, self.i64.const_int(i64::MIN as u64, true), "min")?;
            let minus_one = bd.build_int_compare(IntPredicate::EQ, b64, self.i64.const_all_ones(), "minus_one")?;
            let overflow = bd.build_and(min, minus_one, "overflow")?;
            let no_overflow = bd.build_not(overflow, "no_overflow")?;
            ok = bd.build_and(ok, no_overflow, "fast_ok")?;
        }
        let fast = self.context.append_basic_block(self.function, &format!("pc{}_div64", ins.pc));
        let slow = self.context.append_basic_block(self.function, &format!("pc{}_div256", ins.pc));
        bd.build_conditional_branch(ok, fast, slow)?;

        self.builder.position_at_end(fast);
        let bd = &self.builder;
        let r64 = match ins.opcode {
            op::DIV => bd.build_int_unsigned_div(a64, b64, "q64")?,
            op::MOD => bd.build_int_unsigned_rem(a64, b64, "r64")?,
            op::SDIV => bd.build_int_signed_div(a64, b64, "q64")?,
            _ => bd.build_int_signed_rem(a64, b64, "r64")?,
        };
        let r = if signed {
            bd.build_int_s_extend(r64, self.word, "q")?
        } else {
            bd.build_int_z_extend(r64, self.word, "q")?
        };
        if !self.reg {
            // Where the builtin leaves its result: the deeper operand's slot (in memory, as
            // the builtin's path has it at the merge).
            self.store_to_stack(1, r)?;
        }
        self.builder.position_at_end(slow);
        Ok((fast, r))
    }

    /// Memory mode, after a call: flushes the length and reloads the context, stack base and
    /// length, so that no value lives across the call. In a long block of calls, values live
    /// across all of them (the context pointer, the block's stack pointer) made LLVM's
    /// register allocator split their ranges around every call: compile time grew with the
    /// square of the block's calls (4,096 SLOADs in one block took 30 s).
    fn fresh_after_call(&mut self) -> Result<(), CodegenError> {
        self.flush_len()?;
        self.restart_after_merge()
    }

    /// An infallible environment read through revm: no result check, the section goes on.
    pub(super) fn emit_revm_read(&mut self, ins: &Instruction) -> Result<(), CodegenError> {
        self.flush_len()?;
        self.call_revm_instruction(ins)?;
        self.offset += ins.outputs() as i64 - ins.inputs() as i64;
        self.fresh_after_call()
    }

    /// MLOAD, MSTORE, MSTORE8: the access itself when the bytes lie inside the frame's memory
    /// (no expansion, so no gas beyond the static cost the section charged). Else the
    /// `grow_memory` builtin: at an offset below 2^32 it has revm grow memory and charge for it
    /// (or halt exactly as the interpreter does) and makes the access; a larger offset it hands
    /// to revm's implementation of the opcode, which halts (or, given gas enough for gigabytes,
    /// makes the access itself).
    ///
    /// The direct path works on the operands' 64-bit limbs where they lie on the interpreter's
    /// stack (memory mode only: these instructions never run in register mode): i256 loads,
    /// byte swaps and compares cost LLVM's instruction selection several times more, and a
    /// contract has hundreds of these sites.
    pub(super) fn emit_memory(&mut self, ins: &Instruction) -> Result<(), CodegenError> {
        debug_assert!(!self.reg, "memory instructions are not eligible for register mode");
        let (held_offset, held_value) = (self.held_word(0), self.held_word(1));
        // The fallback reads the operands from the interpreter's stack.
        self.flush_len()?;
        let size: u64 = if ins.opcode == op::MSTORE8 { 1 } else { 32 };
        let Window { offset_slot, offset, fits, address, done, fallback } =
            self.branch_on_window(ins, held_offset, field::MEMORY, field::MEMORY_LEN, size, "beyond")?;
        match ins.opcode {
            op::MLOAD => self.copy_swapped_limbs(address, offset_slot, true)?,
            op::MSTORE => match held_value {
                Some(HeldWord::Wide(value)) if value.is_const() => self.store_swapped_word(value, address)?,
                _ => {
                    let value_slot = self.slot(1)?;
                    self.copy_swapped_limbs(value_slot, address, false)?;
                }
            },
            _ => {
                let value_slot = self.slot(1)?;
                // The least significant byte of a little-endian word is its first.
                let byte = self.builder.build_load(self.context.i8_type(), value_slot, "byte")?;
                self.builder.build_store(address, byte)?;
            }
        }
        self.builder.build_unconditional_branch(done)?;

        self.builder.position_at_end(fallback);
        // One builtin call that grows memory and makes the access, so that the fallback is one
        // call site and joins at `done` as the direct path does. Two call sites (growth, and
        // revm's opcode for a huge offset) with a return into the direct block after growing
        // cost 12% more instructions to compile snailtracer at the default level.
        let huge = self.i64.const_int(OFFSET_BEYOND_32_BITS, false);
        let offset_or_huge = self.builder.build_select(fits, offset, huge, "offset_or_huge")?.into_int_value();
        let stop = self.call_grow_memory(ins, offset_or_huge)?;
        self.branch_on_stop(stop, done)?;

        self.builder.position_at_end(done);
        self.restart_after_merge()?;
        self.offset += ins.outputs() as i64 - ins.inputs() as i64;
        Ok(())
    }

    /// Calls the `grow_memory` builtin for `ins` at `offset` (an `i64` below 2^32, or
    /// [`OFFSET_BEYOND_32_BITS`]); returns its outcome (non-zero:
    /// the frame halted; see [`crate::abi::GrowMemoryFn`]).
    fn call_grow_memory(&mut self, ins: &Instruction, offset: IntValue<'ctx>) -> Result<IntValue<'ctx>, CodegenError> {
        let f = self.builtin_ptr(builtin::GROW_MEMORY)?;
        let ptr = self.context.ptr_type(Default::default());
        let ty = self.i32.fn_type(&[ptr.into(), self.i64.into(), self.i32.into(), self.i32.into()], false);
        let args = [
            self.ctx_ptr.into(),
            offset.into(),
            self.i32.const_int(ins.opcode as u64, false).into(),
            self.i32.const_int(ins.pc as u64, false).into(),
        ];
        Ok(self
            .builder
            .build_indirect_call(ty, f, &args, "grow")?
            .try_as_basic_value()
            .basic()
            .expect("returns i32")
            .into_int_value())
    }

    /// Branches on a builtin's result: non-zero exits with [`ExitStatus::ActionSet`] (the
    /// builtin set the frame's action), zero goes on at `next`.
    fn branch_on_stop(&mut self, stop: IntValue<'ctx>, next: BasicBlock<'ctx>) -> Result<(), CodegenError> {
        let stopped = self.exit_block(ExitStatus::ActionSet)?;
        let is_stop = self.builder.build_int_compare(IntPredicate::NE, stop, self.i32.const_zero(), "stop")?;
        self.builder.build_conditional_branch(is_stop, stopped, next)?;
        Ok(())
    }

    /// The shared head of the direct paths of MLOAD, MSTORE, MSTORE8 and CALLDATALOAD: reads the
    /// top stack word as an offset and branches on whether `offset + size` lies within the
    /// buffer at context field `base_field`, whose length is field `len_field`. Leaves the
    /// builder in the direct block, where the returned address is `base + offset`; the caller
    /// fills that block and the fallback (named `pc<pc>_<fallback_name>`), and both join at
    /// `done`.
    ///
    /// `held` is the offset as the section held it before the flush, if it did: its limbs, or
    /// a constant `i256`, are checked without reading the stack back, and a constant offset's
    /// checks fold to one comparison with the length (`mload(0x40)`, `mstore(0, key)`).
    fn branch_on_window(
        &mut self,
        ins: &Instruction,
        held: Option<HeldWord<'ctx>>,
        base_field: u64,
        len_field: u64,
        size: u64,
        fallback_name: &str,
    ) -> Result<Window<'ctx>, CodegenError> {
        let offset_slot = self.slot(0)?;
        let (offset, fits) = match held {
            Some(HeldWord::Limbs(limbs)) => self.small_offset_of_limbs(limbs)?,
            Some(HeldWord::Wide(value)) if value.is_const() => self.small_offset_of_constant(value)?,
            _ => self.small_offset(offset_slot)?,
        };
        let len = self.load_ctx_i64(len_field, "window_len")?;
        let b = &self.builder;
        let end = b.build_int_add(offset, self.i64.const_int(size, false), "end")?;
        let inside = b.build_int_compare(IntPredicate::ULE, end, len, "inside")?;
        let direct_ok = b.build_and(fits, inside, "in_window")?;
        let direct = self.context.append_basic_block(self.function, &format!("pc{}_direct", ins.pc));
        let fallback = self.context.append_basic_block(self.function, &format!("pc{}_{fallback_name}", ins.pc));
        let done = self.context.append_basic_block(self.function, &format!("pc{}_done", ins.pc));
        b.build_conditional_branch(direct_ok, direct, fallback)?;

        self.builder.position_at_end(direct);
        let base = self.load_ctx_ptr(base_field, "window")?;
        // SAFETY: (in the generated IR) `offset + size <= len`, checked just above, and the
        // context's pointer in `base_field` is valid for the length in `len_field` (see
        // `crate::abi`).
        let address = unsafe { self.builder.build_gep(self.context.i8_type(), base, &[offset], "address")? };
        Ok(Window { offset_slot, offset, fits, address, done, fallback })
    }

    /// Reads the stack word at `slot` as an offset: its low limb, and whether the word fits in
    /// 32 bits (so `offset + 32` cannot wrap and revm would not fail converting it).
    fn small_offset(&self, slot: PointerValue<'ctx>) -> Result<(IntValue<'ctx>, IntValue<'ctx>), CodegenError> {
        let mut limbs = [self.i64.const_zero(); 4];
        for (index, limb) in limbs.iter_mut().enumerate() {
            let address = self.limb(slot, index as u64)?;
            let name = if index == 0 { "offset" } else { "offset_limb" };
            *limb = self.builder.build_load(self.i64, address, name)?.into_int_value();
        }
        self.small_offset_of_limbs(limbs)
    }

    /// [`Emitter::small_offset`] of a word held as limbs.
    fn small_offset_of_limbs(
        &self,
        limbs: super::limbs::Limbs<'ctx>,
    ) -> Result<(IntValue<'ctx>, IntValue<'ctx>), CodegenError> {
        let b = &self.builder;
        let high = b.build_or(b.build_or(limbs[1], limbs[2], "offset_high")?, limbs[3], "offset_high")?;
        let low_high = b.build_right_shift(limbs[0], self.i64.const_int(32, false), false, "low_high")?;
        let upper = b.build_or(high, low_high, "upper")?;
        let fits = b.build_int_compare(IntPredicate::EQ, upper, self.i64.const_zero(), "small")?;
        Ok((limbs[0], fits))
    }

    /// [`Emitter::small_offset`] of a constant `i256`: the builder folds both results to
    /// constants.
    fn small_offset_of_constant(
        &self,
        value: IntValue<'ctx>,
    ) -> Result<(IntValue<'ctx>, IntValue<'ctx>), CodegenError> {
        let b = &self.builder;
        let upper = b.build_right_shift(value, self.word.const_int(32, false), false, "upper")?;
        let fits = b.build_int_compare(IntPredicate::EQ, upper, self.word.const_zero(), "small")?;
        Ok((b.build_int_truncate(value, self.i64, "offset")?, fits))
    }

    /// MSTORE's direct path for a constant value the section held (`mstore(0x40, 0x80)`): its
    /// limbs, byte-swapped (folded by the builder), stored as 32 big-endian bytes at `dst`
    /// (memory), without reading the value back from the stack. A computed value is read
    /// back from the stack instead: keeping its `i256` live across the bounds check measured
    /// no better on snailtracer and costs instruction selection more.
    fn store_swapped_word(&self, value: IntValue<'ctx>, dst: PointerValue<'ctx>) -> Result<(), CodegenError> {
        let i8 = self.context.i8_type();
        for limb in 0..4u64 {
            let shifted =
                self.builder.build_right_shift(value, self.word.const_int(64 * limb, false), false, "limb")?;
            let limb_value = self.builder.build_int_truncate(shifted, self.i64, "limb")?;
            let swapped = self.byte_swapped(limb_value.into())?;
            // SAFETY: (in the generated IR) within the 32 bytes checked to lie in memory.
            let to = unsafe { self.builder.build_gep(i8, dst, &[self.i64.const_int(24 - 8 * limb, false)], "mem")? };
            self.builder.build_store(to, swapped)?.set_alignment(1).expect("valid alignment");
        }
        Ok(())
    }

    /// The address of 64-bit limb `index` (0 = least significant) of the stack word at `slot`.
    pub(super) fn limb(&self, slot: PointerValue<'ctx>, index: u64) -> Result<PointerValue<'ctx>, CodegenError> {
        // SAFETY: (in the generated IR) a stack word is four limbs, `index` < 4.
        Ok(unsafe { self.builder.build_gep(self.i64, slot, &[self.i64.const_int(index, false)], "limb")? })
    }

    /// Copies 32 bytes between big-endian memory and a little-endian stack word, eight at a
    /// time, byte-swapped: limb `i` of the word is bytes `24 - 8i .. 32 - 8i` of memory.
    /// `from_memory`: `src` is memory (or the input) and `dst` a stack slot, else the reverse.
    ///
    /// Limb code calls a builtin instead: LLVM's fast instruction selector has no byte swap.
    fn copy_swapped_limbs(
        &self,
        src: PointerValue<'ctx>,
        dst: PointerValue<'ctx>,
        from_memory: bool,
    ) -> Result<(), CodegenError> {
        if self.limbs {
            let index = if from_memory { builtin::LOAD_BE_WORD } else { builtin::STORE_BE_WORD };
            let ptr = self.context.ptr_type(Default::default());
            let ty = self.context.void_type().fn_type(&[ptr.into(), ptr.into()], false);
            let f = self.builtin_ptr(index)?;
            self.builder.build_indirect_call(ty, f, &[dst.into(), src.into()], "")?;
            return Ok(());
        }
        let (src_align, dst_align) = if from_memory { (1, 8) } else { (8, 1) };
        let i8 = self.context.i8_type();
        for limb in 0..4u64 {
            let memory_byte = self.i64.const_int(24 - 8 * limb, false);
            let (from, to) = if from_memory {
                // SAFETY: (in the generated IR) within the 32 bytes checked to lie in memory.
                (unsafe { self.builder.build_gep(i8, src, &[memory_byte], "mem")? }, self.limb(dst, limb)?)
            } else {
                // SAFETY: as above.
                (self.limb(src, limb)?, unsafe { self.builder.build_gep(i8, dst, &[memory_byte], "mem")? })
            };
            let value = self.builder.build_load(self.i64, from, "limb")?;
            value.as_instruction_value().expect("load").set_alignment(src_align).expect("valid alignment");
            let swapped = self.byte_swapped(value)?;
            self.builder.build_store(to, swapped)?.set_alignment(dst_align).expect("valid alignment");
        }
        Ok(())
    }

    /// `llvm.bswap.i64` of `value` (an `i64`): a limb between little-endian stack order and
    /// big-endian memory order.
    fn byte_swapped(&self, value: BasicValueEnum<'ctx>) -> Result<BasicValueEnum<'ctx>, CodegenError> {
        let bswap = Intrinsic::find("llvm.bswap").expect("llvm.bswap exists");
        let bswap = bswap.get_declaration(self.module, &[self.i64.into()]).expect("bswap.i64");
        Ok(self
            .builder
            .build_call(bswap, &[value.into()], "swapped")?
            .try_as_basic_value()
            .basic()
            .expect("bswap returns a value"))
    }

    /// After a direct path and a builtin path meet again: reload the context and stack
    /// pointers (the length is flushed, so it is the context's) instead of keeping the block's
    /// values alive. Values live across thousands of such diamonds made LLVM's register
    /// coalescer superlinearly slow (a contract of 1,000 MLOADs took 3.6 s to compile).
    fn restart_after_merge(&mut self) -> Result<(), CodegenError> {
        debug_assert_eq!(self.offset, 0, "the length is flushed before a builtin path");
        let height = self.block_len.get_zero_extended_constant().map(|h| h as u32);
        self.reload_ctx()?;
        self.reload_len(height)
    }

    /// CALLDATALOAD: a direct big-endian read when the 32 bytes lie inside the input, revm's
    /// implementation (zero padding past the end) otherwise. Neither can fail or observe gas,
    /// so the section goes on.
    pub(super) fn emit_calldataload(&mut self, ins: &Instruction) -> Result<(), CodegenError> {
        debug_assert!(!self.reg, "CALLDATALOAD is not eligible for register mode");
        let held_offset = self.held_word(0);
        self.flush_len()?;
        let Window { offset_slot, address, done, fallback, .. } =
            self.branch_on_window(ins, held_offset, field::CALLDATA, field::CALLDATA_LEN, 32, "padded")?;
        self.copy_swapped_limbs(address, offset_slot, true)?;
        self.builder.build_unconditional_branch(done)?;

        self.builder.position_at_end(fallback);
        self.call_revm_instruction(ins)?;
        self.builder.build_unconditional_branch(done)?;

        self.builder.position_at_end(done);
        self.restart_after_merge()
    }

    /// Calls the builtin that runs `ins` through revm (its entry in `Builtins::opcodes`);
    /// returns its result (non-zero: stop).
    fn call_revm_instruction(&mut self, ins: &Instruction) -> Result<IntValue<'ctx>, CodegenError> {
        let f = self.builtin_ptr(builtin::OPCODES + ins.opcode as u64)?;
        let ptr = self.context.ptr_type(Default::default());
        let ty = self.i32.fn_type(&[ptr.into(), self.i32.into(), self.i32.into()], false);
        let args = [
            self.ctx_ptr.into(),
            self.i32.const_int(ins.opcode as u64, false).into(),
            self.i32.const_int(ins.pc as u64, false).into(),
        ];
        Ok(self
            .builder
            .build_indirect_call(ty, f, &args, "revm")?
            .try_as_basic_value()
            .basic()
            .expect("returns i32")
            .into_int_value())
    }

    /// Everything else: revm's implementation, through the opcode's builtin.
    pub(super) fn emit_revm(&mut self, ins: &Instruction) -> Result<(), CodegenError> {
        // Length and gas already live in the context, where the builtin reads them.
        self.flush_len()?;
        let stop = self.call_revm_instruction(ins)?;
        let next = self.context.append_basic_block(self.function, &format!("pc{}_continue", ins.pc));
        self.branch_on_stop(stop, next)?;
        self.builder.position_at_end(next);
        self.offset += ins.outputs() as i64 - ins.inputs() as i64;
        if ins.is_terminator() {
            // revm always stops the frame on these; should it ever continue, the interpreter
            // takes over at the next pc rather than native code guessing.
            self.flush_len()?;
            self.exit_at(ExitStatus::Interpret, self.i64.const_int(ins.pc as u64 + 1, false))?;
        } else if ins.suspends() {
            // The child frame's result was produced without suspending (e.g. a failed depth
            // or balance check): continue at the resume point.
            self.flush_len()?;
            self.branch_to(ins.pc + 1)?;
        } else if !self.reg {
            self.fresh_after_call()?;
        }
        Ok(())
    }

    fn emit_jump(&mut self, ins: &Instruction) -> Result<(), CodegenError> {
        let target = self.load(0)?;
        self.offset -= 1;
        self.flush_len()?;
        match ins.static_target {
            Some(t) => self.branch_static(t),
            None => self.branch_dynamic(target),
        }
    }

    fn emit_jumpi(&mut self, ins: &Instruction) -> Result<(), CodegenError> {
        let target = self.load(0)?;
        let cond = self.load(1)?;
        self.offset -= 2;
        self.flush_len()?;
        let taken = self.builder.build_int_compare(IntPredicate::NE, cond, self.word.const_zero(), "taken")?;
        let fallthrough = self.edge_to(ins.pc + 1)?;
        let jump = self.context.append_basic_block(self.function, &format!("pc{}_taken", ins.pc));
        self.builder.build_conditional_branch(taken, jump, fallthrough)?;
        self.builder.position_at_end(jump);
        match ins.static_target {
            Some(t) => self.branch_static(t),
            None => self.branch_dynamic(target),
        }
    }

    /// Jumps to a constant target: a direct branch, or an invalid-jump exit.
    pub(super) fn branch_static(&mut self, target: U256) -> Result<(), CodegenError> {
        let block = usize::try_from(target)
            .ok()
            .filter(|&t| self.analysis.is_jumpdest(t))
            .and_then(|t| self.blocks.get(&(t as u32)).copied());
        match block {
            Some(_) => self.branch_to(target.to::<u32>()),
            // A JUMPDEST inside a run starts no block: go through the dispatch, which handles it.
            None if usize::try_from(target).is_ok_and(|t| self.analysis.is_jumpdest(t)) => {
                if self.reg {
                    self.spill()?;
                }
                // A valid jump destination lies within the code: no range check to make.
                self.dispatch_to(self.i64.const_int(target.to::<u64>(), false))
            }
            None => {
                if self.reg {
                    self.spill()?;
                }
                self.exit_with(ExitStatus::InvalidJump)
            }
        }
    }

    /// Jumps to a computed target through the shared dispatch block.
    fn branch_dynamic(&mut self, target: IntValue<'ctx>) -> Result<(), CodegenError> {
        if self.reg {
            self.spill()?;
        }
        let in_range = self.builder.build_int_compare(
            IntPredicate::ULT,
            target,
            self.word.const_int(self.analysis.code_len as u64, false),
            "jump_in_range",
        )?;
        let narrow = self.builder.build_int_truncate(target, self.i64, "jump_target")?;
        let index =
            self.builder.build_select(in_range, narrow, self.i64.const_all_ones(), "jump_index")?.into_int_value();
        self.dispatch_to(index)
    }

    /// Jumps through the shared dispatch block to `index`: a pc within the code, or
    /// `u64::MAX` for a target outside it. The caller has spilled register state.
    pub(super) fn dispatch_to(&mut self, index: IntValue<'ctx>) -> Result<(), CodegenError> {
        // Volatile so that `mem2reg` leaves the slot alone (see `Dispatch`).
        self.builder.build_store(self.dispatch.target_slot, index)?.set_volatile(true).expect("volatile store");
        self.dispatch.used = true;
        self.builder.build_unconditional_branch(self.dispatch.block)?;
        Ok(())
    }
}
