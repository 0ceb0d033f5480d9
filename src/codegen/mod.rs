//! Code generation: an [`Analysis`] to one LLVM function through inkwell.
//!
//! The generated function has the [`crate::abi::EntryFn`] signature. The EVM stack lives in
//! the interpreter's own buffer; within a basic block, stack positions are addressed at
//! constant offsets from the block's entry length, so LLVM forwards values between
//! instructions without touching memory. Stack length and gas are kept in allocas (promoted to
//! registers by LLVM) and written to the context only when control leaves native code.
//!
//! Per section (see [`crate::analysis`]) one check covers static gas and stack bounds; its
//! failure exits with [`ExitStatus::Interpret`] at the section's first pc.

mod ops;

use crate::abi::{ExitStatus, field};
use crate::analysis::{Analysis, Instruction, Operation, Section};
use inkwell::{
    AddressSpace, IntPredicate,
    basic_block::BasicBlock,
    builder::{Builder, BuilderError},
    context::Context,
    module::{Linkage, Module},
    types::{FunctionType, IntType},
    values::{BasicValue, FunctionValue, IntValue, PhiValue, PointerValue},
};
use revm::bytecode::opcode as op;
use std::collections::HashMap;

/// Errors while emitting LLVM IR.
#[derive(Debug, thiserror::Error)]
pub enum CodegenError {
    /// inkwell refused to build an instruction (a bug in codegen).
    #[error("building LLVM IR failed: {0}")]
    Builder(#[from] BuilderError),
    /// The module failed LLVM's verifier (a bug in codegen).
    #[error("generated IR is invalid: {0}")]
    Verify(String),
}

/// Emits the function `name` for `analysis` into `module`.
pub fn emit_function<'ctx>(
    context: &'ctx Context,
    module: &Module<'ctx>,
    analysis: &Analysis,
    name: &str,
) -> Result<FunctionValue<'ctx>, CodegenError> {
    let mut emitter = Emitter::new(context, module, analysis, name)?;
    emitter.emit_body()?;
    Ok(emitter.function)
}

/// The function's signature: `i32 (ptr)`.
fn entry_type(context: &Context) -> FunctionType<'_> {
    context.i32_type().fn_type(&[context.ptr_type(AddressSpace::default()).into()], false)
}

/// State of the function being emitted.
struct Emitter<'a, 'ctx> {
    context: &'ctx Context,
    module: &'a Module<'ctx>,
    builder: Builder<'ctx>,
    analysis: &'a Analysis,
    function: FunctionValue<'ctx>,
    word: IntType<'ctx>,
    i64: IntType<'ctx>,
    i32: IntType<'ctx>,
    ctx_ptr: PointerValue<'ctx>,
    stack_base: PointerValue<'ctx>,
    builtins: PointerValue<'ctx>,
    /// Stack length, promoted to a register by LLVM.
    len_slot: PointerValue<'ctx>,
    /// Gas remaining, promoted to a register by LLVM.
    gas_slot: PointerValue<'ctx>,
    /// Basic block of each block-starting section, by pc.
    blocks: HashMap<u32, BasicBlock<'ctx>>,
    exit: Exit<'ctx>,
    dispatch: Dispatch<'ctx>,
    /// Stack length at the current block's entry, and the stack pointer there.
    block_len: IntValue<'ctx>,
    block_sp: PointerValue<'ctx>,
    /// Items pushed (positive) or popped (negative) since the block entry, known statically.
    offset: i64,
}

/// The single exit block: stores length, gas and pc into the context and returns a status.
struct Exit<'ctx> {
    block: BasicBlock<'ctx>,
    status: PhiValue<'ctx>,
    pc: PhiValue<'ctx>,
}

/// The shared block for dynamic jumps: a switch over all valid jump destinations.
struct Dispatch<'ctx> {
    block: BasicBlock<'ctx>,
    target: PhiValue<'ctx>,
    used: bool,
}

impl<'a, 'ctx> Emitter<'a, 'ctx> {
    fn new(
        context: &'ctx Context,
        module: &'a Module<'ctx>,
        analysis: &'a Analysis,
        name: &str,
    ) -> Result<Self, CodegenError> {
        let function = module.add_function(name, entry_type(context), Some(Linkage::External));
        let builder = context.create_builder();
        let word = context.custom_width_int_type(std::num::NonZeroU32::new(256).unwrap()).expect("i256");
        let i64 = context.i64_type();
        let i32 = context.i32_type();
        let ptr = context.ptr_type(AddressSpace::default());
        let ctx_ptr = function.get_nth_param(0).expect("one parameter").into_pointer_value();

        let entry = context.append_basic_block(function, "entry");
        let exit_block = context.append_basic_block(function, "exit");
        let dispatch_block = context.append_basic_block(function, "dispatch");

        builder.position_at_end(exit_block);
        let status = builder.build_phi(i32, "status")?;
        let pc = builder.build_phi(i64, "exit_pc")?;
        builder.position_at_end(dispatch_block);
        let target = builder.build_phi(word, "jump_target")?;

        builder.position_at_end(entry);
        let len_slot = builder.build_alloca(i64, "len")?;
        let gas_slot = builder.build_alloca(i64, "gas")?;
        let mut emitter = Self {
            context,
            module,
            builder,
            analysis,
            function,
            word,
            i64,
            i32,
            ctx_ptr,
            stack_base: ptr.const_null(),
            builtins: ptr.const_null(),
            len_slot,
            gas_slot,
            blocks: HashMap::new(),
            exit: Exit { block: exit_block, status, pc },
            dispatch: Dispatch { block: dispatch_block, target, used: false },
            block_len: i64.const_zero(),
            block_sp: ptr.const_null(),
            offset: 0,
        };
        emitter.stack_base = emitter.load_ctx_ptr(field::STACK, "stack")?;
        emitter.builtins = emitter.load_ctx_ptr(field::BUILTINS, "builtins")?;
        let len = emitter.load_ctx_i64(field::STACK_LEN, "len0")?;
        emitter.builder.build_store(len_slot, len)?;
        let gas = emitter.load_ctx_i64(field::GAS, "gas0")?;
        emitter.builder.build_store(gas_slot, gas)?;
        Ok(emitter)
    }

    fn emit_body(&mut self) -> Result<(), CodegenError> {
        let analysis = self.analysis;
        for section in analysis.sections.iter().filter(|s| s.starts_block) {
            let pc = analysis.instructions[section.first].pc;
            let block = self.context.append_basic_block(self.function, &format!("pc{pc}"));
            self.blocks.insert(pc, block);
        }
        self.emit_entry_switch()?;
        for (index, section) in analysis.sections.iter().enumerate() {
            if section.starts_block {
                let pc = analysis.instructions[section.first].pc;
                self.begin_block(self.blocks[&pc])?;
            }
            self.emit_section(section)?;
            let next = analysis.sections.get(index + 1);
            let last = &analysis.instructions[section.end - 1];
            if !last.is_terminator() && !last.suspends() && last.opcode != op::JUMPI {
                // Fall through into the next section if it starts a new block.
                if let Some(next) = next.filter(|n| n.starts_block) {
                    let pc = analysis.instructions[next.first].pc;
                    self.flush_len()?;
                    self.builder.build_unconditional_branch(self.blocks[&pc])?;
                }
            }
        }
        self.emit_exit()?;
        self.emit_dispatch()?;
        Ok(())
    }

    /// Entry: dispatch on the entry pc to the code start or a resume point.
    fn emit_entry_switch(&mut self) -> Result<(), CodegenError> {
        let pc = self.load_ctx_i64(field::PC, "entry_pc")?;
        let fallback = self.context.append_basic_block(self.function, "entry_unknown_pc");
        let mut cases = vec![(self.i64.const_zero(), self.blocks[&0])];
        for resume in self.analysis.resume_points() {
            if let Some(&block) = self.blocks.get(&resume) {
                cases.push((self.i64.const_int(resume as u64, false), block));
            }
        }
        self.builder.build_switch(pc, fallback, &cases)?;
        self.builder.position_at_end(fallback);
        self.exit_with(ExitStatus::Interpret, pc)?;
        Ok(())
    }

    /// Starts emitting into `block`, reloading the stack length.
    fn begin_block(&mut self, block: BasicBlock<'ctx>) -> Result<(), CodegenError> {
        self.builder.position_at_end(block);
        self.reload_len()
    }

    fn reload_len(&mut self) -> Result<(), CodegenError> {
        self.block_len = self.builder.build_load(self.i64, self.len_slot, "len")?.into_int_value();
        // SAFETY (LLVM IR, not Rust): the index stays within the 1024-slot stack buffer because
        // every section checks its stack bounds before touching slots.
        self.block_sp = unsafe { self.builder.build_gep(self.word, self.stack_base, &[self.block_len], "sp")? };
        self.offset = 0;
        Ok(())
    }

    /// Writes the statically tracked stack length back to the length slot.
    fn flush_len(&mut self) -> Result<(), CodegenError> {
        if self.offset != 0 {
            let len = self.current_len()?;
            self.builder.build_store(self.len_slot, len)?;
            self.block_sp = unsafe {
                self.builder.build_gep(self.word, self.block_sp, &[self.i64.const_int(self.offset as u64, true)], "sp")?
            };
            self.block_len = len;
            self.offset = 0;
        }
        Ok(())
    }

    fn current_len(&self) -> Result<IntValue<'ctx>, CodegenError> {
        Ok(if self.offset == 0 {
            self.block_len
        } else {
            self.builder.build_int_add(self.block_len, self.i64.const_int(self.offset as u64, true), "len")?
        })
    }

    /// Emits the section's gas and stack check, then its instructions.
    fn emit_section(&mut self, section: &Section) -> Result<(), CodegenError> {
        self.emit_section_check(section)?;
        for ins in &self.analysis.instructions[section.first..section.end] {
            self.emit_instruction(ins)?;
        }
        Ok(())
    }

    fn emit_section_check(&mut self, section: &Section) -> Result<(), CodegenError> {
        let pc = self.analysis.instructions[section.first].pc;
        let b = &self.builder;
        let gas = b.build_load(self.i64, self.gas_slot, "gas")?.into_int_value();
        let mut ok = self.context.bool_type().const_all_ones();
        if section.gas > 0 {
            let enough = b.build_int_compare(IntPredicate::UGE, gas, self.i64.const_int(section.gas, false), "gas_ok")?;
            ok = b.build_and(ok, enough, "ok")?;
        }
        let len = self.current_len()?;
        if section.min_len > 0 {
            let no_underflow =
                b.build_int_compare(IntPredicate::UGE, len, self.i64.const_int(section.min_len as u64, false), "no_underflow")?;
            ok = b.build_and(ok, no_underflow, "ok")?;
        }
        if section.max_growth > 0 {
            let limit = 1024u64.saturating_sub(section.max_growth as u64);
            let no_overflow = b.build_int_compare(IntPredicate::ULE, len, self.i64.const_int(limit, false), "no_overflow")?;
            ok = b.build_and(ok, no_overflow, "ok")?;
        }
        if section.gas == 0 && section.min_len == 0 && section.max_growth == 0 {
            return Ok(());
        }
        let pass = self.context.append_basic_block(self.function, &format!("pc{pc}_checked"));
        let fail = self.context.append_basic_block(self.function, &format!("pc{pc}_check_failed"));
        b.build_conditional_branch(ok, pass, fail)?;

        b.position_at_end(fail);
        b.build_store(self.len_slot, len)?;
        self.exit_with(ExitStatus::Interpret, self.i64.const_int(pc as u64, false))?;

        self.builder.position_at_end(pass);
        if section.gas > 0 {
            let rest = self.builder.build_int_sub(gas, self.i64.const_int(section.gas, false), "gas")?;
            self.builder.build_store(self.gas_slot, rest)?;
        }
        Ok(())
    }

    /// Branches to the exit block; the length slot must be current.
    fn exit_with(&mut self, status: ExitStatus, pc: IntValue<'ctx>) -> Result<(), CodegenError> {
        let here = self.builder.get_insert_block().expect("positioned");
        self.exit.status.add_incoming(&[(&self.i32.const_int(status as u64, false), here)]);
        self.exit.pc.add_incoming(&[(&pc, here)]);
        self.builder.build_unconditional_branch(self.exit.block)?;
        Ok(())
    }

    fn emit_exit(&mut self) -> Result<(), CodegenError> {
        self.builder.position_at_end(self.exit.block);
        let len = self.builder.build_load(self.i64, self.len_slot, "len")?;
        self.store_ctx(field::STACK_LEN, len.into_int_value())?;
        let gas = self.builder.build_load(self.i64, self.gas_slot, "gas")?;
        self.store_ctx(field::GAS, gas.into_int_value())?;
        self.store_ctx(field::PC, self.exit.pc.as_basic_value().into_int_value())?;
        self.builder.build_return(Some(&self.exit.status.as_basic_value()))?;
        Ok(())
    }

    fn emit_dispatch(&mut self) -> Result<(), CodegenError> {
        self.builder.position_at_end(self.dispatch.block);
        if !self.dispatch.used {
            self.builder.build_unreachable()?;
            return Ok(());
        }
        let target = self.dispatch.target.as_basic_value().into_int_value();
        let invalid = self.context.append_basic_block(self.function, "invalid_jump");
        let in_range = self.context.append_basic_block(self.function, "jump_in_range");
        let fits = self.builder.build_int_compare(
            IntPredicate::ULT,
            target,
            self.word.const_int(self.analysis.code_len as u64, false),
            "jump_fits",
        )?;
        self.builder.build_conditional_branch(fits, in_range, invalid)?;
        self.builder.position_at_end(in_range);
        let small = self.builder.build_int_truncate(target, self.i64, "target")?;
        let cases: Vec<_> = self
            .analysis
            .jumpdests
            .iter()
            .enumerate()
            .filter(|&(_, &valid)| valid)
            .filter_map(|(pc, _)| self.blocks.get(&(pc as u32)).map(|&b| (self.i64.const_int(pc as u64, false), b)))
            .collect();
        self.builder.build_switch(small, invalid, &cases)?;
        self.builder.position_at_end(invalid);
        self.exit_with(ExitStatus::InvalidJump, self.i64.const_zero())?;
        Ok(())
    }

    // ---- context and stack access ----

    fn ctx_field(&self, index: u64, name: &str) -> Result<PointerValue<'ctx>, CodegenError> {
        // SAFETY (LLVM IR): `index` is a field of the 64-byte EvmContext (see `abi::field`).
        Ok(unsafe { self.builder.build_gep(self.i64, self.ctx_ptr, &[self.i64.const_int(index, false)], name)? })
    }

    fn load_ctx_i64(&self, index: u64, name: &str) -> Result<IntValue<'ctx>, CodegenError> {
        let p = self.ctx_field(index, name)?;
        Ok(self.builder.build_load(self.i64, p, name)?.into_int_value())
    }

    fn load_ctx_ptr(&self, index: u64, name: &str) -> Result<PointerValue<'ctx>, CodegenError> {
        let p = self.ctx_field(index, name)?;
        let ptr = self.context.ptr_type(AddressSpace::default());
        Ok(self.builder.build_load(ptr, p, name)?.into_pointer_value())
    }

    fn store_ctx(&self, index: u64, value: IntValue<'ctx>) -> Result<(), CodegenError> {
        let p = self.ctx_field(index, "field")?;
        self.builder.build_store(p, value)?;
        Ok(())
    }

    /// Address of the stack item `depth` below the top (0 = top).
    fn slot(&self, depth: i64) -> Result<PointerValue<'ctx>, CodegenError> {
        let index = self.i64.const_int((self.offset - 1 - depth) as u64, true);
        // SAFETY (LLVM IR): in bounds because the section's stack check passed.
        Ok(unsafe { self.builder.build_gep(self.word, self.block_sp, &[index], "slot")? })
    }

    fn load(&self, depth: i64) -> Result<IntValue<'ctx>, CodegenError> {
        let p = self.slot(depth)?;
        let v = self.builder.build_load(self.word, p, "v")?;
        v.as_instruction_value().expect("load").set_alignment(8).expect("valid alignment");
        Ok(v.into_int_value())
    }

    fn store(&self, depth: i64, value: IntValue<'ctx>) -> Result<(), CodegenError> {
        let p = self.slot(depth)?;
        let s = self.builder.build_store(p, value)?;
        s.set_alignment(8).expect("valid alignment");
        Ok(())
    }

    /// Loads a builtin's function pointer from the table.
    fn builtin_ptr(&self, index: u64) -> Result<PointerValue<'ctx>, CodegenError> {
        let ptr = self.context.ptr_type(AddressSpace::default());
        // SAFETY (LLVM IR): `index` is an entry of the `Builtins` table (see `abi::builtin`).
        let p = unsafe { self.builder.build_gep(ptr, self.builtins, &[self.i64.const_int(index, false)], "builtin")? };
        Ok(self.builder.build_load(ptr, p, "builtin_fn")?.into_pointer_value())
    }

    /// Emits one instruction; see `ops.rs` for the opcode-specific parts.
    fn emit_instruction(&mut self, ins: &Instruction) -> Result<(), CodegenError> {
        match ins.op {
            Operation::Push(value) => {
                let limbs = value.into_limbs();
                let c = self.word.const_int_arbitrary_precision(&limbs);
                self.offset += 1;
                self.store(0, c)
            }
            Operation::Inline => self.emit_inline(ins),
            Operation::Arith => self.emit_arith(ins),
            Operation::Revm => self.emit_revm(ins),
        }
    }
}
