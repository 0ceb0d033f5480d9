//! Code generation: an [`Analysis`] to one LLVM function through inkwell.
//!
//! The generated function has the [`crate::abi::EntryFn`] signature. The EVM stack lives in
//! the interpreter's own buffer; within a basic block, stack positions are addressed at
//! constant offsets from the block's entry length, so LLVM forwards values between
//! instructions without touching memory. Stack length and gas live in the context itself:
//! keeping them in SSA across the whole function made LLVM build huge phi webs.
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
    values::{BasicValue, FunctionValue, IntValue, PointerValue},
};
use revm::bytecode::opcode as op;
use revm::interpreter::interpreter::STACK_LIMIT;
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
    /// The context pointer as seen by the current block (reloaded at each block start).
    ctx_ptr: PointerValue<'ctx>,
    /// Stack slot holding the context pointer. Reloading it per block keeps every live range
    /// local to a block: a pointer live across the whole function and thousands of calls made
    /// LLVM's register allocator split it around every call, quadratically.
    ctx_slot: PointerValue<'ctx>,
    /// Stack base, reloaded at each block start.
    stack_base: PointerValue<'ctx>,
    /// Basic block of each block-starting section, by pc.
    blocks: HashMap<u32, BasicBlock<'ctx>>,
    dispatch: Dispatch<'ctx>,
    /// Shared `ret` blocks, one per [`ExitStatus`], created on first use.
    exits: [Option<BasicBlock<'ctx>>; 4],
    /// Stack length at the current block's entry, and the stack pointer there.
    block_len: IntValue<'ctx>,
    block_sp: PointerValue<'ctx>,
    /// Items pushed (positive) or popped (negative) since the block entry, known statically.
    offset: i64,
}

/// The shared block for dynamic jumps: a switch over all valid jump destinations. Each jump
/// site narrows its 256-bit target to an i64 (out-of-range targets become `u64::MAX`) and
/// stores it in a stack slot. A slot rather than a phi: a phi with one incoming value per jump
/// site (a thousand in large contracts) dominated register coalescing time.
struct Dispatch<'ctx> {
    block: BasicBlock<'ctx>,
    target_slot: PointerValue<'ctx>,
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
        let dispatch_block = context.append_basic_block(function, "dispatch");

        builder.position_at_end(entry);
        let target_slot = builder.build_alloca(i64, "jump_target_slot")?;
        let ctx_slot = builder.build_alloca(ptr, "ctx_slot")?;
        builder.build_store(ctx_slot, ctx_ptr)?.set_volatile(true).expect("store");
        let emitter = Self {
            context,
            module,
            builder,
            analysis,
            function,
            word,
            i64,
            i32,
            ctx_ptr,
            ctx_slot,
            stack_base: ptr.const_null(),
            blocks: HashMap::new(),
            dispatch: Dispatch { block: dispatch_block, target_slot, used: false },
            exits: [None; 4],
            block_len: i64.const_zero(),
            block_sp: ptr.const_null(),
            offset: 0,
        };
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
        self.exit_at(ExitStatus::Interpret, pc)?;
        Ok(())
    }

    /// Starts emitting into `block`, reloading the stack length.
    fn begin_block(&mut self, block: BasicBlock<'ctx>) -> Result<(), CodegenError> {
        self.builder.position_at_end(block);
        let ptr = self.context.ptr_type(AddressSpace::default());
        let ctx = self.builder.build_load(ptr, self.ctx_slot, "ctx")?;
        ctx.as_instruction_value().expect("load").set_volatile(true).expect("volatile load");
        self.ctx_ptr = ctx.into_pointer_value();
        self.reload_len()
    }

    fn reload_len(&mut self) -> Result<(), CodegenError> {
        // Reloading the stack base per block keeps its live range short: values live across
        // thousands of blocks make LLVM's register allocator superlinearly slow.
        self.stack_base = self.load_ctx_ptr(field::STACK, "stack")?;
        self.block_len = self.load_ctx_i64(field::STACK_LEN, "len")?;
        // SAFETY: inkwell marks GEPs unsafe because an out-of-bounds one is undefined in the
        // generated code. The stack length is at most 1024, the buffer's capacity (the runtime
        // checks it at entry; native code keeps it there), so the address is inside the buffer
        // or one past its end.
        self.block_sp = unsafe { self.builder.build_gep(self.word, self.stack_base, &[self.block_len], "sp")? };
        self.offset = 0;
        Ok(())
    }

    /// Writes the statically tracked stack length back to the length slot.
    fn flush_len(&mut self) -> Result<(), CodegenError> {
        if self.offset != 0 {
            let len = self.current_len()?;
            self.store_ctx(field::STACK_LEN, len)?;
            // SAFETY: as in `reload_len`: the new stack pointer is `stack_base + len`, with the
            // length within the buffer because the section's stack check passed.
            self.block_sp = unsafe {
                self.builder.build_gep(
                    self.word,
                    self.block_sp,
                    &[self.i64.const_int(self.offset as u64, true)],
                    "sp",
                )?
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

    /// Emits the section's check. The stack length and the section's pc are written to the
    /// context *before* the check, so that every failing check branches to the same shared
    /// exit with nothing left to store: per-site exit code makes LLVM merge thousands of exits
    /// through huge phis, which made large contracts compile superlinearly slowly.
    fn emit_section_check(&mut self, section: &Section) -> Result<(), CodegenError> {
        if section.gas == 0 && section.min_len == 0 && section.max_growth == 0 {
            return Ok(());
        }
        let pc = self.analysis.instructions[section.first].pc;
        self.flush_len()?;
        self.store_ctx(field::PC, self.i64.const_int(pc as u64, false))?;
        let b = &self.builder;
        let gas = self.load_ctx_i64(field::GAS, "gas")?;
        let mut ok = self.context.bool_type().const_all_ones();
        if section.gas > 0 {
            let enough =
                b.build_int_compare(IntPredicate::UGE, gas, self.i64.const_int(section.gas, false), "gas_ok")?;
            ok = b.build_and(ok, enough, "ok")?;
        }
        let len = self.block_len;
        if section.min_len > 0 {
            let no_underflow = b.build_int_compare(
                IntPredicate::UGE,
                len,
                self.i64.const_int(section.min_len as u64, false),
                "no_underflow",
            )?;
            ok = b.build_and(ok, no_underflow, "ok")?;
        }
        if section.max_growth as usize > STACK_LIMIT {
            // No entry length lets this section run without overflowing: always hand it to
            // the interpreter, which overflows at the exact instruction.
            ok = self.context.bool_type().const_zero();
        } else if section.max_growth > 0 {
            let limit = (STACK_LIMIT - section.max_growth as usize) as u64;
            let no_overflow =
                b.build_int_compare(IntPredicate::ULE, len, self.i64.const_int(limit, false), "no_overflow")?;
            ok = b.build_and(ok, no_overflow, "ok")?;
        }
        let pass = self.context.append_basic_block(self.function, &format!("pc{pc}"));
        let fail = self.exit_block(ExitStatus::Interpret)?;
        self.builder.build_conditional_branch(ok, pass, fail)?;
        self.builder.position_at_end(pass);
        if section.gas > 0 {
            let rest = self.builder.build_int_sub(gas, self.i64.const_int(section.gas, false), "gas")?;
            self.store_ctx(field::GAS, rest)?;
        }
        Ok(())
    }

    /// The shared block returning `status` (created on first use).
    fn exit_block(&mut self, status: ExitStatus) -> Result<BasicBlock<'ctx>, CodegenError> {
        if let Some(block) = self.exits[status as usize] {
            return Ok(block);
        }
        let here = self.builder.get_insert_block();
        let block = self.context.append_basic_block(self.function, &format!("exit_{status:?}"));
        self.builder.position_at_end(block);
        self.builder.build_return(Some(&self.i32.const_int(status as u64, false)))?;
        if let Some(here) = here {
            self.builder.position_at_end(here);
        }
        self.exits[status as usize] = Some(block);
        Ok(block)
    }

    /// Leaves native code with `status`; the stack length must be flushed.
    fn exit_with(&mut self, status: ExitStatus) -> Result<(), CodegenError> {
        let block = self.exit_block(status)?;
        self.builder.build_unconditional_branch(block)?;
        Ok(())
    }

    /// Leaves native code with `status` and `pc` (where the interpreter continues).
    fn exit_at(&mut self, status: ExitStatus, pc: IntValue<'ctx>) -> Result<(), CodegenError> {
        self.store_ctx(field::PC, pc)?;
        self.exit_with(status)
    }

    fn emit_dispatch(&mut self) -> Result<(), CodegenError> {
        self.builder.position_at_end(self.dispatch.block);
        if !self.dispatch.used {
            self.builder.build_unreachable()?;
            return Ok(());
        }
        let target = self.builder.build_load(self.i64, self.dispatch.target_slot, "jump_target")?.into_int_value();
        let invalid = self.context.append_basic_block(self.function, "invalid_jump");
        let cases: Vec<_> = self
            .analysis
            .jumpdests
            .iter()
            .enumerate()
            .filter(|&(_, &valid)| valid)
            .filter_map(|(pc, _)| self.blocks.get(&(pc as u32)).map(|&b| (self.i64.const_int(pc as u64, false), b)))
            .collect();
        let not_a_block = self.context.append_basic_block(self.function, "jump_into_run");
        self.builder.build_switch(target, not_a_block, &cases)?;
        self.builder.position_at_end(not_a_block);
        self.emit_jumps_into_runs(target, invalid)?;
        self.builder.position_at_end(invalid);
        self.exit_with(ExitStatus::InvalidJump)?;
        Ok(())
    }

    /// For a target inside a run of JUMPDESTs (not its first byte): charge the gas of the
    /// JUMPDESTs left in the run and continue after it; anything else is an invalid jump.
    fn emit_jumps_into_runs(&mut self, target: IntValue<'ctx>, invalid: BasicBlock<'ctx>) -> Result<(), CodegenError> {
        let ptr = self.context.ptr_type(AddressSpace::default());
        let ctx = self.builder.build_load(ptr, self.ctx_slot, "ctx")?;
        ctx.as_instruction_value().expect("load").set_volatile(true).expect("volatile load");
        self.ctx_ptr = ctx.into_pointer_value();
        let jumpdest_gas = revm::interpreter::instructions::gas_table_spec(self.analysis.spec)[op::JUMPDEST as usize];
        for &(start, end) in &self.analysis.jumpdest_runs {
            let b = &self.builder;
            let above = b.build_int_compare(IntPredicate::UGT, target, self.i64.const_int(start as u64, false), "")?;
            let below = b.build_int_compare(IntPredicate::ULT, target, self.i64.const_int(end as u64, false), "")?;
            let inside = b.build_and(above, below, "inside_run")?;
            let hit = self.context.append_basic_block(self.function, &format!("into_run{start}"));
            let next = self.context.append_basic_block(self.function, &format!("not_run{start}"));
            b.build_conditional_branch(inside, hit, next)?;

            b.position_at_end(hit);
            let remaining = b.build_int_sub(self.i64.const_int(end as u64, false), target, "jumpdests_left")?;
            let cost = b.build_int_mul(remaining, self.i64.const_int(jumpdest_gas as u64, false), "cost")?;
            let gas = self.load_ctx_i64(field::GAS, "gas")?;
            let enough = self.builder.build_int_compare(IntPredicate::UGE, gas, cost, "enough")?;
            // Not enough gas: the interpreter runs out inside the run, exactly as it would.
            self.store_ctx(field::PC, target)?;
            let charged = self.context.append_basic_block(self.function, &format!("into_run{start}_charged"));
            let fail = self.exit_block(ExitStatus::Interpret)?;
            self.builder.build_conditional_branch(enough, charged, fail)?;
            self.builder.position_at_end(charged);
            let rest = self.builder.build_int_sub(gas, cost, "gas")?;
            self.store_ctx(field::GAS, rest)?;
            self.builder.build_unconditional_branch(self.blocks[&end])?;

            self.builder.position_at_end(next);
        }
        self.builder.build_unconditional_branch(invalid)?;
        Ok(())
    }

    // ---- context and stack access ----

    fn ctx_field(&self, index: u64, name: &str) -> Result<PointerValue<'ctx>, CodegenError> {
        // SAFETY: inkwell marks GEPs unsafe because an out-of-bounds one is undefined in the
        // generated code. `index` is one of the `abi::field` indices: an 8-byte field of the
        // 72-byte `EvmContext` native code is called with (`abi` asserts the offsets and the
        // size at compile time), so the address stays inside that context.
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
        // SAFETY: the GEP is undefined in the generated code if out of bounds; the slot is in
        // the stack buffer because the section's stack-bounds check passed before it runs.
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
        let builtins = self.load_ctx_ptr(field::BUILTINS, "builtins")?;
        // SAFETY: the GEP is undefined in the generated code if out of bounds; `index` is an
        // entry of the `Builtins` table the context points to (`abi::builtin`, whose offsets
        // `abi` asserts at compile time).
        let p = unsafe { self.builder.build_gep(ptr, builtins, &[self.i64.const_int(index, false)], "builtin")? };
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
            Operation::RevmRead => self.emit_revm_read(ins),
        }
    }
}
