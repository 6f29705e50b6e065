// FreeList: a bounded, thread-local, singly linked LIFO of free blocks of
// one size class. The building block of the ultra_simple front end and of
// every cache that is "just a list".
#pragma once

#include <cstdint>

#include "allocator/backend/superslab.h"
#include "allocator/pools/thread_heap.h"

namespace hakmem {

// Invariants: count == length(head); count <= limit, except that a list
// whose limit is 0 (the thread is not initialised, or has exited) may hold
// nothing, so every push on it fails and goes to the slow path.
// Layout serves the fast paths: head, count and limit in 16 bytes, so one
// load of a line serves both pop and bounded push.
struct FreeList {
  FreeBlock* head;
  uint32_t count;
  uint32_t limit;

  [[gnu::always_inline]] FreeBlock* pop() {
    FreeBlock* block = head;
    if (block != nullptr) [[likely]] {
      head = block->next;
      --count;
    }
    return block;
  }

  [[gnu::always_inline]] bool push(FreeBlock* block) {
    if (count < limit) [[likely]] {
      block->next = head;
      head = block;
      ++count;
      return true;
    }
    return false;
  }

  void push_chain(const BlockChain& chain) {
    if (chain.count == 0) return;
    chain.tail->next = head;
    head = chain.head;
    count += chain.count;
  }

  // Empties the list and returns its blocks as a nullptr-terminated chain.
  FreeBlock* take_all() {
    FreeBlock* all = head;
    head = nullptr;
    count = 0;
    return all;
  }

  // Keeps the `keep` most recently pushed blocks (the cache-hot ones) and
  // returns the rest as a nullptr-terminated chain.
  FreeBlock* split_after(uint32_t keep) {
    if (keep == 0) return take_all();
    if (keep >= count) return nullptr;
    FreeBlock* last_kept = head;
    for (uint32_t i = 1; i < keep; ++i) last_kept = last_kept->next;
    FreeBlock* rest = last_kept->next;
    last_kept->next = nullptr;
    count = keep;
    return rest;
  }
};
static_assert(sizeof(FreeList) == 16);

}  // namespace hakmem
