//! Code generation: an [`Analysis`] to one LLVM function through inkwell.
//!
//! The generated function has the [`crate::abi::EntryFn`] signature. The EVM stack lives in
//! the interpreter's own buffer; within a basic block, stack positions are addressed at
//! constant offsets from the block's entry length. Between two flushes of the length (before
//! every call, check, branch and exit) the emitter keeps the items it wrote or read as values
//! and stores only those still on the stack at the flush, so temporaries never reach memory.
//! Words are `i256` values, or 64-bit limbs for the baseline tier ([`Words`]). Stack length and gas live in the context itself:
//! keeping them in SSA across the whole function made LLVM build huge phi webs.
//!
//! Per section (see [`crate::analysis`]) one check covers static gas and stack bounds; its
//! failure exits with [`ExitStatus::Interpret`] at the section's first pc.
//!
//! *Register mode.* A block whose entry stack height is static (see
//! [`Analysis::heights`]) and which calls nothing but the pure arithmetic builtins keeps its
//! stack items and the gas in allocas, one per absolute stack position, which `mem2reg`
//! turns into SSA values: a loop made of such blocks never touches the interpreter's stack
//! or the context. The interpreter's state is made exact again ("spilled": live items, gas
//! and length written back) wherever control leaves register mode: on every exit, on a
//! failed section check (each such check gets its own small spill block), on an edge into a
//! block in memory mode, and before a dynamic jump. An edge from memory mode into register
//! mode loads the items ("fills"). Register mode is gated by contract size
//! ([`REGISTER_MODE_MAX_INSTRUCTIONS`]) because every spill block and the SSA phis cost
//! compile time.

mod limbs;
mod ops;

use crate::abi::{ExitStatus, field};
use crate::analysis::{Analysis, Instruction, Operation, Section};
use inkwell::{
    AddressSpace, IntPredicate,
    attributes::{Attribute, AttributeLoc},
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

/// Contracts with more instructions than this are compiled without register mode (see the
/// module documentation), bounding the compile time its spill blocks and phis cost.
pub const REGISTER_MODE_MAX_INSTRUCTIONS: usize = 20_000;

/// Dynamic-jump targets from which the optimising tiers dispatch through the dense table of
/// block numbers (see `Emitter::emit_dispatch`) rather than switching on pcs. With a few
/// targets, LLVM's compare tree is shorter than a table load and a jump-table branch; with
/// hundreds (Solidity's internal-function returns), every return goes through about five
/// compares and branches before the jump-table branch (snailtracer's 575 targets).
pub const DENSE_DISPATCH_MIN_TARGETS: usize = 32;

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

/// How the generated code represents 256-bit words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Words {
    /// As LLVM `i256` values: LLVM's instruction selection sees whole-word operations, folds
    /// constants through them and keeps loop values in registers (register mode). For the
    /// optimising levels.
    Wide,
    /// As four 64-bit limbs, read and written in place on the interpreter's stack, with the
    /// operations that need more than a few limb instructions (MUL, the shifts, the signed
    /// comparisons, BYTE, SIGNEXTEND, CLZ, division, the byte swaps of memory and calldata
    /// accesses) in builtins. Every instruction of such a function is one LLVM's fast
    /// instruction selector handles, while any `i256` operation sends its whole block to the
    /// SelectionDAG selector, which took three quarters of the baseline tier's compile time.
    /// No register mode. For [`crate::compiler::OptLevel::Baseline`].
    Limbs,
}

/// Emits the function `name` for `analysis` into `module`, with words represented as `words`
/// says.
pub fn emit_function<'ctx>(
    context: &'ctx Context,
    module: &Module<'ctx>,
    analysis: &Analysis,
    name: &str,
    words: Words,
) -> Result<FunctionValue<'ctx>, CodegenError> {
    let mut emitter = Emitter::new(context, module, analysis, name, words)?;
    emitter.emit_body()?;
    Ok(emitter.function)
}

/// The function's signature: `i32 (ptr)`.
fn entry_type(context: &Context) -> FunctionType<'_> {
    context.i32_type().fn_type(&[context.ptr_type(AddressSpace::default()).into()], false)
}

/// The loops of the graph `successors`: its strongly connected components with a cycle
/// (Tarjan's algorithm, iteratively: contracts have tens of thousands of blocks).
fn loops(successors: &HashMap<u32, Vec<u32>>) -> Vec<Vec<u32>> {
    let succ = |pc: u32| -> Vec<u32> { successors.get(&pc).cloned().unwrap_or_default() };
    let mut index: HashMap<u32, (u32, u32)> = HashMap::new(); // pc -> (index, lowlink)
    let mut on_stack = std::collections::HashSet::new();
    let mut stack: Vec<u32> = Vec::new();
    let mut result = Vec::new();
    let mut counter = 0u32;
    let mut roots: Vec<u32> = successors.keys().copied().collect();
    roots.sort_unstable();
    for root in roots {
        if index.contains_key(&root) {
            continue;
        }
        // Frames: (node, its successors, next successor to visit).
        let mut frames: Vec<(u32, Vec<u32>, usize)> = Vec::new();
        index.insert(root, (counter, counter));
        counter += 1;
        stack.push(root);
        on_stack.insert(root);
        frames.push((root, succ(root), 0));
        while let Some(frame) = frames.last_mut() {
            let v = frame.0;
            if let Some(&w) = frame.1.get(frame.2) {
                frame.2 += 1;
                if let Some(&(w_index, _)) = index.get(&w) {
                    if on_stack.contains(&w) {
                        let low = index[&v].1.min(w_index);
                        index.get_mut(&v).expect("visited").1 = low;
                    }
                } else {
                    index.insert(w, (counter, counter));
                    counter += 1;
                    stack.push(w);
                    on_stack.insert(w);
                    frames.push((w, succ(w), 0));
                }
                continue;
            }
            frames.pop();
            let (v_index, v_low) = index[&v];
            if let Some(parent) = frames.last() {
                let p = parent.0;
                let low = index[&p].1.min(v_low);
                index.get_mut(&p).expect("visited").1 = low;
            }
            if v_low == v_index {
                let mut component = Vec::new();
                loop {
                    let w = stack.pop().expect("on stack");
                    on_stack.remove(&w);
                    component.push(w);
                    if w == v {
                        break;
                    }
                }
                if component.len() > 1 || succ(v).contains(&v) {
                    result.push(component);
                }
            }
        }
    }
    result
}

/// Empties a stack cache (see `Emitter::word_cache`), returning the items that changed and are
/// still on the stack (below `top`), in stack order so that the generated code does not depend
/// on the map's iteration order.
fn take_live_changes<T>(cache: &mut HashMap<i64, (T, bool)>, top: i64) -> Vec<(i64, T)> {
    let mut changed: Vec<(i64, T)> = cache
        .drain()
        .filter(|&(position, (_, dirty))| dirty && position < top)
        .map(|(position, (value, _))| (position, value))
        .collect();
    changed.sort_unstable_by_key(|&(position, _)| position);
    changed
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
    /// Whether the current block is in register mode (see the module documentation).
    reg: bool,
    /// In register mode: the stack height at `offset` 0.
    reg_height: u32,
    /// Blocks in register mode, by first pc, with their static entry height.
    register_blocks: HashMap<u32, u32>,
    /// One i256 alloca per absolute stack position used in register mode.
    reg_slots: Vec<PointerValue<'ctx>>,
    /// Gas remaining, in register mode.
    gas_slot: PointerValue<'ctx>,
    /// Operand slots for arithmetic builtins called in register mode (three i256).
    scratch: PointerValue<'ctx>,
    /// Where each exit block records its status (see `exit_block`).
    exit_status_slot: PointerValue<'ctx>,
    /// Words as 64-bit limbs ([`Words::Limbs`]) rather than `i256` values.
    limbs: bool,
    /// Limb code: the stack items written or read since the last flush, by position relative
    /// to the block's stack pointer, and whether each still has to be stored (see `limbs.rs`).
    limb_cache: HashMap<i64, (limbs::Limbs<'ctx>, bool)>,
    /// Memory mode: the same for `i256` items. Written at every flush of the length, which
    /// comes before every call, check, branch and exit.
    word_cache: HashMap<i64, (IntValue<'ctx>, bool)>,
}

/// `nounwind`: no unwinding ever passes through native code (every builtin contains the
/// panics of the code it calls, see [`crate::builtins`]), so the code needs no unwind
/// tables. Without it LLVM emits an `.eh_frame` for every contract, which the JIT registers
/// with the process's unwinder (libgcc's `__register_frame`): a linked list that freeing a
/// contract's code walks in full, and that every unwind anywhere in the process (a caught
/// panic in a `Database`, say) searches. With thousands of contracts compiled, that walk
/// took a quarter of the differential fuzzer's time.
fn nounwind(context: &Context) -> Attribute {
    context.create_enum_attribute(Attribute::get_named_enum_kind_id("nounwind"), 0)
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
        words: Words,
    ) -> Result<Self, CodegenError> {
        let function = module.add_function(name, entry_type(context), Some(Linkage::External));
        function.add_attribute(AttributeLoc::Function, nounwind(context));
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
        let gas_slot = builder.build_alloca(i64, "gas_slot")?;
        // Register mode's builtin operands; limb code has neither (and no `i256` at all).
        let scratch = if words == Words::Wide {
            builder.build_array_alloca(word, i64.const_int(3, false), "arith_scratch")?
        } else {
            ptr.const_null()
        };
        let ctx_slot = builder.build_alloca(ptr, "ctx_slot")?;
        let exit_status_slot = builder.build_alloca(i32, "exit_status_slot")?;
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
            reg: false,
            reg_height: 0,
            register_blocks: HashMap::new(),
            reg_slots: Vec::new(),
            gas_slot,
            scratch,
            exit_status_slot,
            limbs: words == Words::Limbs,
            limb_cache: HashMap::new(),
            word_cache: HashMap::new(),
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
        self.choose_register_blocks()?;
        self.emit_entry_switch()?;
        let mut in_cold_block = false;
        for (index, section) in analysis.sections.iter().enumerate() {
            if section.starts_block {
                let pc = analysis.instructions[section.first].pc;
                in_cold_block = self.is_cold(pc);
                if in_cold_block {
                    self.emit_cold_block(pc)?;
                } else {
                    self.begin_block(self.blocks[&pc], pc)?;
                }
            }
            if in_cold_block {
                continue;
            }
            self.emit_section(section)?;
            let next = analysis.sections.get(index + 1);
            let last = &analysis.instructions[section.end - 1];
            if !last.is_terminator() && !last.suspends() && last.opcode != op::JUMPI {
                // Fall through into the next section if it starts a new block.
                if let Some(next) = next.filter(|n| n.starts_block) {
                    let pc = analysis.instructions[next.first].pc;
                    self.flush_len()?;
                    self.branch_to(pc)?;
                }
            }
        }
        self.emit_dispatch()?;
        Ok(())
    }

    /// Whether the block at `pc` is handed to the interpreter uncompiled (see
    /// [`Analysis::cold`]). Register-mode blocks never are: they form loops, which are never
    /// doomed, and their entries expect register state.
    fn is_cold(&self, pc: u32) -> bool {
        self.analysis.cold.contains(&pc) && !self.register_blocks.contains_key(&pc)
    }

    /// A cold block's whole body: continue in the interpreter at its first pc. Exact for the
    /// same reason as a failed section check at a block start: the stack length is flushed
    /// on every edge into a memory-mode block, and nothing of the block has run.
    fn emit_cold_block(&mut self, pc: u32) -> Result<(), CodegenError> {
        self.builder.position_at_end(self.blocks[&pc]);
        self.reg = false;
        self.reload_ctx()?;
        self.exit_at(ExitStatus::Interpret, self.i64.const_int(pc as u64, false))
    }

    /// Picks the blocks that run in register mode and creates their allocas (in the entry
    /// block, where `mem2reg` promotes them).
    fn choose_register_blocks(&mut self) -> Result<(), CodegenError> {
        let analysis = self.analysis;
        if self.limbs || analysis.instructions.len() > REGISTER_MODE_MAX_INSTRUCTIONS {
            return Ok(());
        }
        let mut max_height = 0u32;
        let mut i = 0;
        let sections = &analysis.sections;
        while i < sections.len() {
            let start = i;
            i += 1;
            while i < sections.len() && !sections[i].starts_block {
                i += 1;
            }
            if !sections[start].starts_block {
                continue;
            }
            let pc = analysis.instructions[sections[start].first].pc;
            let Some(&entry) = analysis.heights.get(&pc) else { continue };
            // Eligible: nothing but inline code and arithmetic builtins, and no statically
            // certain underflow or overflow (such a block always fails its check anyway).
            let mut h = entry as i64;
            let mut top = h;
            let eligible = analysis.instructions[sections[start].first..sections[i - 1].end].iter().all(|ins| {
                let ok = matches!(ins.op, Operation::Inline | Operation::Push(_) | Operation::Arith)
                    && h >= ins.inputs() as i64;
                h += ins.outputs() as i64 - ins.inputs() as i64;
                top = top.max(h);
                ok && h <= STACK_LIMIT as i64
            });
            if eligible {
                self.register_blocks.insert(pc, entry);
                max_height = max_height.max(top as u32);
            }
        }
        // Only loops pay: outside one, filling at entry and spilling at exit costs more than
        // the stores register mode saves, and a loop with any block in memory mode would
        // fill and spill on every iteration. So keep the loops (strongly connected components
        // of the static control flow graph) made only of eligible blocks.
        let mut keep = std::collections::HashSet::new();
        for component in loops(&analysis.successors) {
            if component.iter().all(|pc| self.register_blocks.contains_key(pc)) {
                keep.extend(component);
            }
        }
        self.register_blocks.retain(|pc, _| keep.contains(pc));
        if !self.register_blocks.is_empty() {
            // The entry block has no terminator yet: allocas go at its end.
            for p in 0..max_height {
                let slot = self.builder.build_alloca(self.word, &format!("s{p}"))?;
                self.reg_slots.push(slot);
            }
        }
        Ok(())
    }

    /// The block to branch to for `pc` from memory-mode code that has flushed the length: the
    /// block itself, or for a register-mode block a new landing block that fills its items.
    fn landing(&mut self, pc: u32) -> Result<BasicBlock<'ctx>, CodegenError> {
        let block = self.blocks[&pc];
        let Some(&height) = self.register_blocks.get(&pc) else { return Ok(block) };
        let here = self.builder.get_insert_block();
        let saved_ctx = self.ctx_ptr;
        let landing = self.context.append_basic_block(self.function, &format!("fill_pc{pc}"));
        self.builder.position_at_end(landing);
        self.fill(height)?;
        self.builder.build_unconditional_branch(block)?;
        if let Some(here) = here {
            self.builder.position_at_end(here);
        }
        self.ctx_ptr = saved_ctx;
        Ok(landing)
    }

    /// The block to branch to for `pc` from the current block (with the length flushed):
    /// the block itself, or an edge block that spills or fills on the way.
    fn edge_to(&mut self, pc: u32) -> Result<BasicBlock<'ctx>, CodegenError> {
        let target_reg = self.register_blocks.contains_key(&pc);
        if !self.reg {
            return self.landing(pc);
        }
        if target_reg {
            return Ok(self.blocks[&pc]);
        }
        let here = self.builder.get_insert_block();
        let saved_ctx = self.ctx_ptr;
        let edge = self.context.append_basic_block(self.function, &format!("spill_to_pc{pc}"));
        self.builder.position_at_end(edge);
        self.spill()?;
        self.builder.build_unconditional_branch(self.blocks[&pc])?;
        if let Some(here) = here {
            self.builder.position_at_end(here);
        }
        self.ctx_ptr = saved_ctx;
        Ok(edge)
    }

    /// Branches to the block at `pc` (length flushed), spilling or filling as needed.
    fn branch_to(&mut self, pc: u32) -> Result<(), CodegenError> {
        let target_reg = self.register_blocks.contains_key(&pc);
        if self.reg && !target_reg {
            self.spill()?;
        } else if !self.reg && target_reg {
            let height = self.register_blocks[&pc];
            self.fill(height)?;
        }
        self.builder.build_unconditional_branch(self.blocks[&pc])?;
        Ok(())
    }

    /// Reloads the context pointer at the current position (see `ctx_slot`).
    fn reload_ctx(&mut self) -> Result<(), CodegenError> {
        let ptr = self.context.ptr_type(AddressSpace::default());
        let ctx = self.builder.build_load(ptr, self.ctx_slot, "ctx")?;
        ctx.as_instruction_value().expect("load").set_volatile(true).expect("volatile load");
        self.ctx_ptr = ctx.into_pointer_value();
        Ok(())
    }

    /// Register mode: the stack length at the current point.
    fn reg_len(&self) -> u32 {
        (self.reg_height as i64 + self.offset) as u32
    }

    /// Register mode: writes the live items, the gas and the length back to the interpreter's
    /// state, at the current position. Emitter state is unchanged (register mode goes on in
    /// the code that follows on other paths).
    fn spill(&mut self) -> Result<(), CodegenError> {
        let len = self.reg_len();
        self.reload_ctx()?;
        let base = self.load_ctx_ptr(field::STACK, "stack")?;
        for p in 0..len {
            let v = self.builder.build_load(self.word, self.reg_slots[p as usize], "spill")?;
            // SAFETY: (in the generated IR) `p` is below the stack length, within the 1024-slot buffer.
            let dst =
                unsafe { self.builder.build_gep(self.word, base, &[self.i64.const_int(p as u64, false)], "slot")? };
            self.builder.build_store(dst, v)?.set_alignment(8).expect("valid alignment");
        }
        let gas = self.builder.build_load(self.i64, self.gas_slot, "gas")?.into_int_value();
        self.store_ctx(field::GAS, gas)?;
        self.store_ctx(field::STACK_LEN, self.i64.const_int(len as u64, false))?;
        Ok(())
    }

    /// Loads `height` items and the gas from the interpreter's state into the allocas of
    /// register mode, at the current position.
    fn fill(&mut self, height: u32) -> Result<(), CodegenError> {
        self.reload_ctx()?;
        let base = self.load_ctx_ptr(field::STACK, "stack")?;
        for p in 0..height {
            // SAFETY: (in the generated IR) the stack holds `height` items here (the block's static height).
            let src =
                unsafe { self.builder.build_gep(self.word, base, &[self.i64.const_int(p as u64, false)], "slot")? };
            let v = self.builder.build_load(self.word, src, "fill")?;
            v.as_instruction_value().expect("load").set_alignment(8).expect("valid alignment");
            self.builder.build_store(self.reg_slots[p as usize], v)?;
        }
        let gas = self.load_ctx_i64(field::GAS, "gas")?;
        self.builder.build_store(self.gas_slot, gas)?;
        Ok(())
    }

    /// Entry: dispatch on the entry pc to the code start, a resume point or a loop head
    /// (where a frame started in the interpreter moves to native code). Any other pc exits at
    /// once, handing the frame back to the interpreter at that pc.
    ///
    /// Where the block's height is static, the entry checks that the stack length is that
    /// height (else the interpreter takes the frame at the entry pc): at fresh frames and
    /// resume points it always is, at a loop head entered from the interpreter it is whenever
    /// the height is static at all, and code that relies on a height should not trust its
    /// caller for it.
    fn emit_entry_switch(&mut self) -> Result<(), CodegenError> {
        let pc = self.load_ctx_i64(field::PC, "entry_pc")?;
        let entry = self.builder.get_insert_block().expect("positioned in the entry block");
        let fallback = self.context.append_basic_block(self.function, "entry_unknown_pc");
        let mut cases = Vec::new();
        let mut targets: Vec<u32> = std::iter::once(0)
            .chain(self.analysis.resume_points())
            .chain(self.analysis.loop_heads())
            .filter(|&pc| pc == 0 || self.blocks.contains_key(&pc))
            .collect();
        targets.sort_unstable();
        targets.dedup();
        for (i, &target) in targets.iter().enumerate() {
            let mut block = self.landing(target)?;
            if let Some(&height) = self.analysis.heights.get(&target) {
                let check = self.context.append_basic_block(self.function, &format!("enter_pc{target}"));
                self.builder.position_at_end(check);
                let len = self.load_ctx_i64(field::STACK_LEN, "entry_len")?;
                let expected = self.i64.const_int(height as u64, false);
                let ok = self.builder.build_int_compare(IntPredicate::EQ, len, expected, "entry_len_ok")?;
                self.builder.build_conditional_branch(ok, block, fallback)?;
                block = check;
            }
            // Limb code switches on the entry's dense number, as its jump dispatch does.
            let case = if self.limbs {
                self.i32.const_int(i as u64 + 1, false)
            } else {
                self.i64.const_int(target as u64, false)
            };
            cases.push((case, block));
        }
        self.builder.position_at_end(entry);
        let selector = if self.limbs { self.jump_target_number(pc, &targets)? } else { pc };
        self.builder.build_switch(selector, fallback, &cases)?;
        self.builder.position_at_end(fallback);
        self.exit_at(ExitStatus::Interpret, pc)?;
        Ok(())
    }

    /// Starts emitting into `block` (first pc `pc`): in register mode from its static
    /// height, otherwise reloading the stack length.
    fn begin_block(&mut self, block: BasicBlock<'ctx>, pc: u32) -> Result<(), CodegenError> {
        self.builder.position_at_end(block);
        if let Some(&height) = self.register_blocks.get(&pc) {
            self.reg = true;
            self.reg_height = height;
            self.offset = 0;
            return Ok(());
        }
        self.reg = false;
        debug_assert!(
            self.limb_cache.is_empty() && self.word_cache.is_empty(),
            "every block ends with its stack stored"
        );
        self.reload_ctx()?;
        self.reload_len(self.analysis.heights.get(&pc).copied())
    }

    /// Reloads the stack base, and the length unless the block's `height` is static (then the
    /// length is that constant: slots sit at constant offsets and the stack checks fold).
    fn reload_len(&mut self, height: Option<u32>) -> Result<(), CodegenError> {
        // Reloading the stack base per block keeps its live range short: values live across
        // thousands of blocks make LLVM's register allocator superlinearly slow.
        self.stack_base = self.load_ctx_ptr(field::STACK, "stack")?;
        self.block_len = match height {
            Some(h) => self.i64.const_int(h as u64, false),
            None => self.load_ctx_i64(field::STACK_LEN, "len")?,
        };
        // SAFETY: inkwell marks GEPs unsafe because an out-of-bounds one is undefined in the
        // generated code. The stack length is at most 1024, the buffer's capacity (the runtime
        // checks it at entry, entries check a static height they rely on, and native code keeps
        // the length within bounds), so the address is inside the buffer or one past its end.
        self.block_sp = unsafe { self.builder.build_gep(self.word, self.stack_base, &[self.block_len], "sp")? };
        self.offset = 0;
        Ok(())
    }

    /// Writes the statically tracked stack length back to the length slot.
    fn flush_len(&mut self) -> Result<(), CodegenError> {
        if self.limbs {
            self.store_cached_limbs()?;
        } else if !self.reg {
            self.store_cached_words()?;
        }
        if self.reg {
            // Register mode: the length lives in the emitter until the next spill.
            self.reg_height = self.reg_len();
            self.offset = 0;
            return Ok(());
        }
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
        if !section.checked {
            return self.charge_section_gas(section);
        }
        if section.check_gas == 0 && section.min_len == 0 && section.max_growth == 0 {
            return Ok(());
        }
        if self.reg {
            return self.emit_register_section_check(section);
        }
        let pc = self.analysis.instructions[section.first].pc;
        self.flush_len()?;
        self.store_ctx(field::PC, self.i64.const_int(pc as u64, false))?;
        let b = &self.builder;
        let gas = self.load_ctx_i64(field::GAS, "gas")?;
        let mut ok = self.context.bool_type().const_all_ones();
        if section.check_gas > 0 {
            let enough =
                b.build_int_compare(IntPredicate::UGE, gas, self.i64.const_int(section.check_gas, false), "gas_ok")?;
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

    /// [`Self::emit_section_check`] in register mode: the length is a constant (the checks on
    /// it fold away), gas lives in its alloca, and a failure spills in a block of its own.
    fn emit_register_section_check(&mut self, section: &Section) -> Result<(), CodegenError> {
        let pc = self.analysis.instructions[section.first].pc;
        self.flush_len()?;
        let len = self.reg_len() as u64;
        let gas = self.builder.build_load(self.i64, self.gas_slot, "gas")?.into_int_value();
        let b = &self.builder;
        let enough =
            b.build_int_compare(IntPredicate::UGE, gas, self.i64.const_int(section.check_gas, false), "gas_ok")?;
        let stack_ok = len >= section.min_len as u64
            && section.max_growth as usize <= STACK_LIMIT
            && len <= (STACK_LIMIT - section.max_growth as usize) as u64;
        let ok = if stack_ok { enough } else { self.context.bool_type().const_zero() };
        let pass = self.context.append_basic_block(self.function, &format!("pc{pc}"));
        let fail = self.context.append_basic_block(self.function, &format!("pc{pc}_fail"));
        self.builder.build_conditional_branch(ok, pass, fail)?;
        self.builder.position_at_end(fail);
        self.spill()?;
        self.store_ctx(field::PC, self.i64.const_int(pc as u64, false))?;
        self.exit_with(ExitStatus::Interpret)?;
        self.builder.position_at_end(pass);
        if section.gas > 0 {
            let rest = self.builder.build_int_sub(gas, self.i64.const_int(section.gas, false), "gas")?;
            self.builder.build_store(self.gas_slot, rest)?;
        }
        Ok(())
    }

    /// The start of a section whose check the section before it made (see
    /// [`crate::analysis::Section::checked`]): it only charges its gas, which that check
    /// ensured is there.
    fn charge_section_gas(&mut self, section: &Section) -> Result<(), CodegenError> {
        if section.gas == 0 {
            return Ok(());
        }
        let charge = self.i64.const_int(section.gas, false);
        if self.reg {
            let gas = self.builder.build_load(self.i64, self.gas_slot, "gas")?.into_int_value();
            let rest = self.builder.build_int_sub(gas, charge, "gas")?;
            self.builder.build_store(self.gas_slot, rest)?;
        } else {
            let gas = self.load_ctx_i64(field::GAS, "gas")?;
            let rest = self.builder.build_int_sub(gas, charge, "gas")?;
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
        let code = self.i32.const_int(status as u64, false);
        // A volatile store keeps the block from being an empty `ret`: LLVM merges empty
        // returns into one block whose phi has an incoming value per exit site (thousands in
        // large contracts), and coalescing that phi's copies was quadratic.
        self.builder.build_store(self.exit_status_slot, code)?.set_volatile(true).expect("volatile store");
        self.builder.build_return(Some(&code))?;
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

    /// The shared dispatch of dynamic jumps: a switch on the target pc, or on its dense block
    /// number.
    ///
    /// The dense form looks the target pc up in a constant table of the code's length that
    /// numbers the blocks a jump can start densely from 1 (0 for any other pc), and switches
    /// on that number: dense cases make one bounds check and one jump-table branch. Limb code
    /// always uses it (LLVM's `-O0` backend lowers a sparse switch to a linear chain of
    /// compares: half of a baseline snailtracer run went to it). The optimising backends
    /// build compare trees and jump-table clusters over the pcs themselves, which measured
    /// faster with few targets (the embedded factorial ran at 6.7x with the table, 8.9x
    /// without), so they use the table only from [`DENSE_DISPATCH_MIN_TARGETS`] targets on.
    fn emit_dispatch(&mut self) -> Result<(), CodegenError> {
        self.builder.position_at_end(self.dispatch.block);
        if !self.dispatch.used {
            self.builder.build_unreachable()?;
            return Ok(());
        }
        let target = self.builder.build_load(self.i64, self.dispatch.target_slot, "jump_target")?;
        // Volatile, like the store at each jump site: promoting the slot would build the
        // per-site phi this slot exists to avoid.
        target.as_instruction_value().expect("load").set_volatile(true).expect("volatile load");
        let target = target.into_int_value();
        let invalid = self.context.append_basic_block(self.function, "invalid_jump");
        let targets: Vec<u32> = self
            .analysis
            .jumpdests
            .iter()
            .enumerate()
            .filter(|&(pc, &valid)| valid && self.blocks.contains_key(&(pc as u32)))
            .map(|(pc, _)| pc as u32)
            .collect();
        let dense = self.limbs || targets.len() >= DENSE_DISPATCH_MIN_TARGETS;
        let (selector, selector_type) =
            if dense { (self.jump_target_number(target, &targets)?, self.i32) } else { (target, self.i64) };
        let mut cases = Vec::with_capacity(targets.len());
        for (i, &pc) in targets.iter().enumerate() {
            let case = if dense { i as u64 + 1 } else { pc as u64 };
            // Dispatch targets never have a static height; `landing` keeps this right anyway.
            cases.push((selector_type.const_int(case, false), self.landing(pc)?));
        }
        let not_a_block = self.context.append_basic_block(self.function, "jump_into_run");
        self.builder.position_at_end(self.dispatch.block);
        self.builder.build_switch(selector, not_a_block, &cases)?;
        self.builder.position_at_end(not_a_block);
        self.emit_jumps_into_runs(target, invalid)?;
        self.builder.position_at_end(invalid);
        self.exit_with(ExitStatus::InvalidJump)?;
        Ok(())
    }

    /// Emits, at the current position, the lookup of `target` (any pc; those at or past the
    /// code's end read the table's last entry) in a private constant table: the 1-based
    /// position of `target` in `targets`, 0 when it is none of them. The table has an entry per pc and one more, 0, that every
    /// target at or past the code's end reads.
    fn jump_target_number(&mut self, target: IntValue<'ctx>, targets: &[u32]) -> Result<IntValue<'ctx>, CodegenError> {
        let len = self.analysis.code_len;
        let entry = if targets.len() < u16::MAX as usize { self.context.i16_type() } else { self.i32 };
        let mut numbers = vec![entry.const_zero(); len + 1];
        for (i, &pc) in targets.iter().enumerate() {
            numbers[pc as usize] = entry.const_int(i as u64 + 1, false);
        }
        let table_type = entry.array_type(numbers.len() as u32);
        let table = self.module.add_global(table_type, None, "jump_target_numbers");
        table.set_initializer(&entry.const_array(&numbers));
        table.set_constant(true);
        table.set_linkage(Linkage::Private);
        table.set_unnamed_addr(true);
        let end = self.i64.const_int(len as u64, false);
        let b = &self.builder;
        let in_code = b.build_int_compare(IntPredicate::ULT, target, end, "in_code")?;
        let position = b.build_select(in_code, target, end, "table_position")?.into_int_value();
        // SAFETY: (in the generated IR) `position` is at most the code length, and the table
        // has one entry more than that.
        let address = unsafe { b.build_gep(entry, table.as_pointer_value(), &[position], "table_entry")? };
        let number = b.build_load(entry, address, "target_number")?.into_int_value();
        Ok(b.build_int_z_extend(number, self.i32, "target_number")?)
    }

    /// For a target inside a run of JUMPDESTs (not its first byte): charge the gas of the
    /// JUMPDESTs left in the run and continue after it; anything else is an invalid jump.
    fn emit_jumps_into_runs(&mut self, target: IntValue<'ctx>, invalid: BasicBlock<'ctx>) -> Result<(), CodegenError> {
        self.reload_ctx()?;
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
            let after = self.landing(end)?;
            self.builder.build_unconditional_branch(after)?;

            self.builder.position_at_end(next);
        }
        self.builder.build_unconditional_branch(invalid)?;
        Ok(())
    }

    // ---- context and stack access ----

    fn ctx_field(&self, index: u64, name: &str) -> Result<PointerValue<'ctx>, CodegenError> {
        // SAFETY: inkwell marks GEPs unsafe because an out-of-bounds one is undefined in the
        // generated code. `index` is one of the `abi::field` indices: the first 8-byte word of
        // a field of the 200-byte `EvmContext` native code is called with (`abi` asserts the
        // offsets and the size at compile time), so the address stays inside that context.
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

    /// Register mode: the alloca of the stack item `depth` below the top.
    fn reg_slot(&self, depth: i64) -> PointerValue<'ctx> {
        self.reg_slots[(self.reg_height as i64 + self.offset - 1 - depth) as usize]
    }

    /// The stack item `depth` below the top: from its register-mode alloca, or in memory mode
    /// from the cache of items written or read since the last flush (loaded once, see
    /// `word_cache`).
    fn load(&mut self, depth: i64) -> Result<IntValue<'ctx>, CodegenError> {
        if self.reg {
            return Ok(self.builder.build_load(self.word, self.reg_slot(depth), "r")?.into_int_value());
        }
        let position = self.offset - 1 - depth;
        if let Some(&(value, _)) = self.word_cache.get(&position) {
            return Ok(value);
        }
        let p = self.slot(depth)?;
        let v = self.builder.build_load(self.word, p, "v")?;
        v.as_instruction_value().expect("load").set_alignment(8).expect("valid alignment");
        let value = v.into_int_value();
        self.word_cache.insert(position, (value, false));
        Ok(value)
    }

    /// Sets the stack item `depth` below the top: its register-mode alloca, or in memory mode
    /// the cache, which the next flush writes to the stack if the item is still on it.
    fn store(&mut self, depth: i64, value: IntValue<'ctx>) -> Result<(), CodegenError> {
        if self.reg {
            self.builder.build_store(self.reg_slot(depth), value)?;
            return Ok(());
        }
        self.word_cache.insert(self.offset - 1 - depth, (value, true));
        Ok(())
    }

    /// Memory mode: stores `value` as the stack item `depth` below the top right away,
    /// bypassing the cache (for a value that only one path of a diamond computes).
    fn store_to_stack(&self, depth: i64, value: IntValue<'ctx>) -> Result<(), CodegenError> {
        let p = self.slot(depth)?;
        self.builder.build_store(p, value)?.set_alignment(8).expect("valid alignment");
        Ok(())
    }

    /// Memory mode: stores the cached items that changed and are still on the stack (below
    /// the current top) and empties the cache. Items pushed and consumed between two flushes
    /// (most temporaries) never reach memory.
    fn store_cached_words(&mut self) -> Result<(), CodegenError> {
        for (position, value) in take_live_changes(&mut self.word_cache, self.offset) {
            let index = self.i64.const_int(position as u64, true);
            // SAFETY: as in `slot`: an item below the current top, inside the stack buffer.
            let p = unsafe { self.builder.build_gep(self.word, self.block_sp, &[index], "slot")? };
            self.builder.build_store(p, value)?.set_alignment(8).expect("valid alignment");
        }
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

    /// Emits one instruction; see `ops.rs` for the opcode-specific parts (and `limbs.rs` for
    /// [`Words::Limbs`]).
    fn emit_instruction(&mut self, ins: &Instruction) -> Result<(), CodegenError> {
        if self.limbs {
            return self.emit_limb_instruction(ins);
        }
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
            Operation::Memory => self.emit_memory(ins),
            Operation::CalldataLoad => self.emit_calldataload(ins),
        }
    }
}
