// SuperSlabManager: one lock around slab hand-out and return. Slabs are
// 64 KiB, so this runs once per thousands of allocations at most.
#include "allocator/backend/superslab_manager.h"

#include <algorithm>
#include <bit>
#include <cstring>

#include "allocator/backend/class_map.h"
#include "allocator/config/options.h"
#include "allocator/pal/log.h"

namespace hakmem {

constinit SuperSlabManager g_superslabs{&g_os_pal};

SuperSlab* SuperSlabManager::map_superslabs(size_t bytes, unsigned count) {
  if (!ClassMap::reserve()) return nullptr;
  // At a 2 MiB boundary whatever its size: the mask finds its header. A
  // batch the OS refuses is retried as one SuperSlab.
  if (bytes != kSuperSlabSize) count = 1;
  void* mem = pal_->map(count * bytes, kSuperSlabSize);  // accounted: it backs user blocks
  if (mem == nullptr && count > 1) {
    count = 1;
    mem = pal_->map(bytes, kSuperSlabSize);
  }
  if (mem == nullptr) return nullptr;
  SuperSlab* chain = nullptr;
  for (unsigned i = count; i-- > 0;) {
    auto* ss = reinterpret_cast<SuperSlab*>(static_cast<char*>(mem) + i * bytes);
    // Fresh mappings are zero; only non-zero fields are written, so the
    // header costs one touched page.
    ss->all_slots = slots_of_size(bytes);
    for (unsigned slot = 0; slot < kSlabsPerSuperSlab; ++slot) {
      ss->region.slot_class[slot] = (ss->all_slots >> slot) & 1 ? kFreeSlotClass : kUnmappedSlotClass;
    }
    ss->region.slot_class[0] = kHeaderClass;
    ss->region.magic = kSuperSlabMagic;
    ss->free_slots = ss->all_slots;
    for (uint32_t slots = ss->all_slots; slots != 0; slots &= slots - 1) {
      const unsigned slot = static_cast<unsigned>(std::countr_zero(slots));
      ss->slabs[slot].slot = static_cast<uint8_t>(slot);
      ss->slabs[slot].start = reinterpret_cast<char*>(ss) + slot * kSlabSize;
    }
    mark_unused(ss);
    ss->next = chain;
    chain = ss;
  }
  return chain;
}

// The class map of a mapped SuperSlab none of whose slots is in use. The
// slots it does not map stay foreign.
void SuperSlabManager::mark_unused(SuperSlab* ss) {
  ClassMap::set(ss, kSlabSize, kHeaderClass);
  ClassMap::set(reinterpret_cast<char*>(ss) + kSlabSize, superslab_bytes(ss) - kSlabSize, ClassMap::kFreeSlot);
}

size_t SuperSlabManager::superslab_bytes_for(unsigned size_class) const {
  unsigned kib = superslab_kib_[size_class].load(std::memory_order_relaxed);
  if (kib == 0) {
    const int64_t option = option_value(Option::kSuperSlabKib);
    kib = kSuperSlabSize / 1024;
    if (option == kSmallSuperSlabSize / 1024) {
      kib = kSmallSuperSlabSize / 1024;
    } else if (option != kSuperSlabSize / 1024) {
      // The options table checks ranges, not sets: said once, here.
      static constinit std::atomic<bool> warned{false};
      if (!warned.exchange(true, std::memory_order_relaxed)) {
        log_message("warning: HAKMEM_SUPERSLAB_KIB=%lld is neither 1024 nor 2048; using 2048",
                    static_cast<long long>(option));
      }
    }
  }
  return size_t{kib} * 1024;
}

bool SuperSlabManager::set_superslab_kib(unsigned first_class, unsigned last_class, unsigned kib) {
  if (first_class > last_class || last_class >= kSlabClasses) return false;
  if (kib != 0 && kib != kSmallSuperSlabSize / 1024 && kib != kSuperSlabSize / 1024) return false;
  for (unsigned c = first_class; c <= last_class; ++c) superslab_kib_[c].store(static_cast<uint16_t>(kib), std::memory_order_relaxed);
  return true;
}

namespace {

void link(SuperSlab*& head, SuperSlab* ss) {
  ss->prev = nullptr;
  ss->next = head;
  if (head != nullptr) head->prev = ss;
  head = ss;
}

void unlink(SuperSlab*& head, SuperSlab* ss) {
  if (ss->prev != nullptr) ss->prev->next = ss->next;
  else head = ss->next;
  if (ss->next != nullptr) ss->next->prev = ss->prev;
  ss->next = ss->prev = nullptr;
}

}  // namespace

// The list `ss` belongs on, by its state (the invariant in the header).
unsigned SuperSlabManager::list_index(const SuperSlab* ss) {
  if (ss->dirty_slots != 0) return kDirty;
  return ss->free_slots != 0 ? kClean : kFull;
}

// After a change of `ss`, which was on `from`: to the front of the list
// its state now says.
void SuperSlabManager::relink(SuperSlab*& from, SuperSlab* ss) {
  unlink(from, ss);
  link(list_for(ss), ss);
}

SlabMeta* SuperSlabManager::acquire_slab(unsigned size_class, SlabOwner* owner) {
  std::unique_lock lock(mutex_);
  // A dirty slot first, in any SuperSlab: its pages are resident, so no
  // page faults, and no clean page is touched while dirty ones wait.
  SuperSlab* ss = lists_[kDirty] != nullptr ? lists_[kDirty] : lists_[kClean];
  if (ss == nullptr) {
    // Map outside the lock: mmap can take a while and needs no shared state.
    const unsigned count = map_batch_locked();
    lock.unlock();
    SuperSlab* fresh = map_superslabs(superslab_bytes_for(size_class), count);
    lock.lock();
    if (fresh == nullptr) {
      ++stats_.map_failures;
      return nullptr;
    }
    ss = fresh;  // the first of the batch serves this call
    while (fresh != nullptr) {
      SuperSlab* next = fresh->next;
      fresh->next = nullptr;
      ++stats_.superslabs_mapped;
      stats_.superslab_bytes += static_cast<int64_t>(superslab_bytes(fresh));
      ++empty_superslabs_;
      link(lists_[kClean], fresh);
      fresh = next;
    }
    relink(lists_[kClean], ss);  // to the front: the others wait behind it
  }
  if (ss->free_slots == ss->all_slots) --empty_superslabs_;
  SuperSlab*& from = list_for(ss);
  const uint32_t dirty = ss->dirty_slots;
  const unsigned slot = static_cast<unsigned>(std::countr_zero(dirty != 0 ? dirty : ss->free_slots));
  const uint32_t bit = uint32_t{1} << slot;
  ss->free_slots &= ~bit;
  if ((dirty & bit) != 0) {
    ss->dirty_slots &= ~bit;
    --stats_.dirty_free_slabs;
  }
  if (&list_for(ss) != &from) relink(from, ss);
  ++stats_.slabs_in_use_by_class[size_class];

  SlabMeta* slab = &ss->slabs[slot];
  slab->free = nullptr;
  slab->carved = 0;
  slab->capacity = class_capacity(size_class);
  slab->used = 0;
  slab->size_class = static_cast<uint8_t>(size_class);
  slab->on_partial = 0;
  slab->fresh = (dirty & bit) == 0;
  slab->owner = owner;
  slab->next = slab->prev = nullptr;
  // Mid slabs always check their frees (free() is their slow path anyway);
  // tiny ones under HAKMEM_DEBUG >= 1, whose class map code then sends
  // their frees past the front end's cache to free_slow.
  const bool debug = option_value(Option::kDebug) >= 1;
  slab->checked = size_class >= kTinyClasses || debug;
  if (slab->checked) {
    const size_t words = (slab->capacity + 63) / 64;
    memset(slab_free_bits(ss, slot), 0, words * sizeof(uint64_t));
  }
  // Published last: from here on free() of a block in this slot is valid.
  ss->region.slot_class[slot] = static_cast<uint8_t>(size_class);
  ClassMap::set(slab->start, kSlabSize,
                size_class < kTinyClasses && debug ? size_class + ClassMap::kDebugTiny : size_class);
  // The pass runs after the slot is taken, so it cannot unmap the
  // SuperSlab this slab came from.
  SuperSlab* to_unmap = decay_.tick(*pal_) ? purge_expired_locked() : nullptr;
  if (option_value(Option::kDebug) >= 2) check_superslab_locked(ss, owner);
  lock.unlock();
  unmap_taken(to_unmap);
  return slab;
}

void SuperSlabManager::release_slab(SlabMeta* slab, SlabAge age) {
  SuperSlab* ss = superslab_of(slab);
  const unsigned slot = slab->slot;
  const uint32_t bit = uint32_t{1} << slot;
  const SlabOwner* owner = slab->owner;  // the caller is using it (check())
  SuperSlab* to_unmap = nullptr;
  {
    std::lock_guard lock(mutex_);
    if ((ss->free_slots & bit) != 0 || slab->used != 0) {
      fatal("release of slab %p (slot %u) that is free or still has %u blocks in use",
            static_cast<void*>(slab->start), slot, slab->used);
    }
    ss->region.slot_class[slot] = kFreeSlotClass;
    ClassMap::set(slab->start, kSlabSize, ClassMap::kFreeSlot);
    slab->owner = nullptr;
    slab->free = nullptr;
    SuperSlab*& from = list_for(ss);
    ss->free_slots |= bit;
    --stats_.slabs_in_use_by_class[slab->size_class];
    const bool empty = ss->free_slots == ss->all_slots;
    if (empty) ++empty_superslabs_;
    const bool at_once = Decay::immediate() || age == SlabAge::kIdle;
    if (at_once) {
      // No delay, or the delay has passed: the slot's pages go back now, or the whole SuperSlab.
      if (empty && empty_superslabs_ > option_value(Option::kSuperSlabCache)) {
        take_locked(from, ss, &to_unmap);
      } else {
        pal_->purge(slab->start, kSlabSize);
        ++stats_.purged_slabs;
        // Empty within the cache, with slots still waiting out the delay: its emptiness dates from now.
        if (empty && ss->dirty_slots != 0) ss->empty_since = decay_.stamp();
      }
    } else {
      ss->dirty_slots |= bit;
      ss->dirty_since[slot] = decay_.stamp();
      if (empty) ss->empty_since = ss->dirty_since[slot];
      ++stats_.dirty_free_slabs;
    }
    // To the front of its list: the next acquire reuses these resident
    // pages first, and older dirty slots are left to expire.
    if (to_unmap == nullptr) relink(from, ss);
    if (!Decay::immediate() && decay_.tick(*pal_)) {
      SuperSlab* expired = purge_expired_locked();
      if (expired != nullptr) to_unmap = expired;
    }
    if (option_value(Option::kDebug) >= 2) check_locked(owner);
  }
  unmap_taken(to_unmap);
}

void SuperSlabManager::purge_expired(uint64_t now_ms) {
  SuperSlab* to_unmap = nullptr;
  {
    std::lock_guard lock(mutex_);
    if (decay_.advance(now_ms)) to_unmap = purge_expired_locked();
  }
  unmap_taken(to_unmap);
}

SuperSlab* SuperSlabManager::purge_expired_locked() {
  const int64_t keep = option_value(Option::kSuperSlabCache);
  SuperSlab* taken = nullptr;
  Decay::Stamp oldest = Decay::kNone;  // of what stays dirty
  // Only dirty SuperSlabs can have expired: an empty clean one was purged
  // and kept by an earlier pass, within the cache.
  for (SuperSlab* ss = lists_[kDirty]; ss != nullptr;) {
    SuperSlab* next = ss->next;
    const bool empty = ss->free_slots == ss->all_slots;
    if (empty && decay_.expired(ss->empty_since) && empty_superslabs_ > keep) {
      take_locked(lists_[kDirty], ss, &taken);  // its dirty slots go with it
    } else {
      uint32_t expired = 0;
      for (uint32_t dirty = ss->dirty_slots; dirty != 0; dirty &= dirty - 1) {
        const unsigned slot = static_cast<unsigned>(std::countr_zero(dirty));
        if (decay_.expired(ss->dirty_since[slot])) expired |= uint32_t{1} << slot;
        else oldest = std::min(oldest, ss->dirty_since[slot]);
      }
      purge_slots_locked(ss, expired);
    }
    ss = next;
  }
  decay_.rescanned(oldest);
  return taken;
}

void SuperSlabManager::purge_slots_locked(SuperSlab* ss, uint32_t slots) {
  if (slots == 0) return;
  SuperSlab*& from = list_for(ss);
  ss->dirty_slots &= ~slots;
  if (&list_for(ss) != &from) relink(from, ss);
  // Maximal runs of adjacent slots, one call each.
  while (slots != 0) {
    const unsigned first = static_cast<unsigned>(std::countr_zero(slots));
    const unsigned run = static_cast<unsigned>(std::countr_one(slots >> first));
    pal_->purge(reinterpret_cast<char*>(ss) + first * kSlabSize, run * kSlabSize);
    stats_.purged_slabs += run;
    stats_.dirty_free_slabs -= run;
    slots &= ~(((uint32_t{1} << run) - 1) << first);  // run <= 31: slot 0 is never dirty
  }
}

void SuperSlabManager::take_locked(SuperSlab*& from, SuperSlab* ss, SuperSlab** taken) {
  // Off its list and out of the counts: nobody can find it from here on,
  // so it can be unmapped without the lock (unmap_taken).
  unlink(from, ss);
  --empty_superslabs_;
  stats_.dirty_free_slabs -= std::popcount(ss->dirty_slots);
  --stats_.superslabs_mapped;
  stats_.superslab_bytes -= static_cast<int64_t>(superslab_bytes(ss));
  ss->next = *taken;
  *taken = ss;
}

SuperSlab* SuperSlabManager::take_empty_locked(int64_t keep) {
  SuperSlab* taken = nullptr;
  for (SuperSlab** list : {&lists_[kDirty], &lists_[kClean]}) {
    for (SuperSlab* ss = *list; ss != nullptr && empty_superslabs_ > keep;) {
      SuperSlab* next = ss->next;
      if (ss->free_slots == ss->all_slots) take_locked(*list, ss, &taken);
      ss = next;
    }
  }
  return taken;
}

void SuperSlabManager::unmap_taken(SuperSlab* taken) {
  while (taken != nullptr) {
    SuperSlab* next = taken->next;  // read before the unmap takes it away
    const int dirty = std::popcount(taken->dirty_slots);
    const size_t bytes = superslab_bytes(taken);
    // Cleared before the unmap: once unmapped, the range may be mapped
    // again at once by another thread, whose marks must stay.
    ClassMap::set(taken, bytes, ClassMap::kForeign);
    const bool unmapped = pal_->unmap(taken, bytes);
    std::lock_guard lock(mutex_);
    if (unmapped) {
      ++stats_.superslabs_unmapped;
    } else {
      // Still mapped, empty and usable: back on the list and in the
      // counts; the next pass or trim tries again.
      ++stats_.unmap_failures;
      mark_unused(taken);
      link(list_for(taken), taken);
      ++empty_superslabs_;
      stats_.dirty_free_slabs += dirty;
      ++stats_.superslabs_mapped;
      stats_.superslab_bytes += static_cast<int64_t>(bytes);
      decay_.note(taken->empty_since);
    }
    taken = next;
  }
}

void SuperSlabManager::trim() {
  SuperSlab* to_unmap = nullptr;
  {
    std::lock_guard lock(mutex_);
    to_unmap = take_empty_locked(0);
    // Each purged SuperSlab leaves the dirty list.
    while (lists_[kDirty] != nullptr) purge_slots_locked(lists_[kDirty], lists_[kDirty]->dirty_slots);
    decay_.rescanned(Decay::kNone);
  }
  unmap_taken(to_unmap);
}

SuperSlabStats SuperSlabManager::stats() const {
  std::lock_guard lock(mutex_);
  SuperSlabStats s = stats_;
  s.slabs_in_use = slabs_in_use_locked();
  return s;
}

int64_t SuperSlabManager::slabs_in_use_locked() const {
  int64_t n = 0;
  for (int32_t by_class : stats_.slabs_in_use_by_class) n += by_class;
  return n;
}

void SuperSlabManager::check_superslab_locked(const SuperSlab* ss, const SlabOwner* owner) const {
  if (ss->region.magic != kSuperSlabMagic) fatal("SuperSlab %p: bad magic", static_cast<const void*>(ss));
  if (ss->region.slot_class[0] != kHeaderClass) fatal("SuperSlab %p: slot 0 is not the header", static_cast<const void*>(ss));
  if ((ss->dirty_slots & ~ss->free_slots) != 0) fatal("SuperSlab %p: a dirty slot is in use", static_cast<const void*>(ss));
  if (ss->all_slots != slots_of_size(kSuperSlabSize) && ss->all_slots != slots_of_size(kSmallSuperSlabSize)) {
    fatal("SuperSlab %p: slots %#x are neither 1 MiB's nor 2 MiB's", static_cast<const void*>(ss), ss->all_slots);
  }
  if ((ss->free_slots & ~ss->all_slots) != 0) fatal("SuperSlab %p: a free slot is not mapped", static_cast<const void*>(ss));
  for (unsigned slot = kFirstBlockSlot; slot < kSlabsPerSuperSlab; ++slot) {
    const bool is_free = (ss->free_slots >> slot) & 1;
    const uint8_t cls = ss->region.slot_class[slot];
    const SlabMeta& slab = ss->slabs[slot];
    if (((ss->all_slots >> slot) & 1) == 0) {
      if (cls != kUnmappedSlotClass) fatal("SuperSlab %p slot %u: not mapped, class byte %u", static_cast<const void*>(ss), slot, cls);
      continue;
    }
    if (is_free != (cls == kFreeSlotClass)) {
      fatal("SuperSlab %p slot %u: free bit %d but class byte %u", static_cast<const void*>(ss), slot, is_free, cls);
    }
    if (is_free) continue;
    if (cls >= kSlabClasses || slab.size_class != cls || slab.owner == nullptr) {
      fatal("SuperSlab %p slot %u: class byte %u, metadata class %u, owner %p",
            static_cast<const void*>(ss), slot, cls, slab.size_class, static_cast<void*>(slab.owner));
    }
    if (slab.capacity != class_capacity(cls)) {
      fatal("SuperSlab %p slot %u: capacity %u for class %u", static_cast<const void*>(ss), slot, slab.capacity, cls);
    }
    if (owner != nullptr && slab.owner != owner) continue;  // its counters are its owner's
    if (slab.carved > slab.capacity || slab.used > slab.carved) {
      fatal("SuperSlab %p slot %u: capacity %u carved %u used %u", static_cast<const void*>(ss), slot,
            slab.capacity, slab.carved, slab.used);
    }
  }
}

void SuperSlabManager::check(const SlabOwner* owner) const {
  std::lock_guard lock(mutex_);
  check_locked(owner);
}

void SuperSlabManager::check_locked(const SlabOwner* owner) const {
  int64_t dirty = 0, in_use = 0, mapped = 0, empty = 0, bytes = 0;
  std::array<int32_t, kSlabClasses> by_class{};
  for (unsigned index = 0; index < kLists; ++index) {
    for (const SuperSlab* ss = lists_[index]; ss != nullptr; ss = ss->next) {
      check_superslab_locked(ss, owner);
      if (list_index(ss) != index) {
        fatal("SuperSlab %p (free %#x, dirty %#x) is on list %u", static_cast<const void*>(ss), ss->free_slots,
              ss->dirty_slots, index);
      }
      dirty += std::popcount(ss->dirty_slots);
      in_use += std::popcount(ss->all_slots & ~ss->free_slots);
      for (uint32_t used = ss->all_slots & ~ss->free_slots; used != 0; used &= used - 1)
        ++by_class[ss->region.slot_class[std::countr_zero(used)]];
      empty += ss->free_slots == ss->all_slots;
      ++mapped;
      bytes += static_cast<int64_t>(superslab_bytes(ss));
    }
  }
  if (dirty != stats_.dirty_free_slabs || in_use != slabs_in_use_locked() || mapped != stats_.superslabs_mapped ||
      empty != empty_superslabs_ || bytes != stats_.superslab_bytes) {
    fatal("SuperSlab counts disagree: dirty %lld/%lld in use %lld/%lld mapped %lld/%lld empty %lld/%lld bytes %lld/%lld",
          static_cast<long long>(dirty), static_cast<long long>(stats_.dirty_free_slabs),
          static_cast<long long>(in_use), static_cast<long long>(slabs_in_use_locked()),
          static_cast<long long>(mapped), static_cast<long long>(stats_.superslabs_mapped),
          static_cast<long long>(empty), static_cast<long long>(empty_superslabs_),
          static_cast<long long>(bytes), static_cast<long long>(stats_.superslab_bytes));
  }
  for (unsigned c = 0; c < kSlabClasses; ++c) {
    if (by_class[c] != stats_.slabs_in_use_by_class[c])
      fatal("SuperSlab counts disagree: class %u has %d slabs in use, counted %d", c, by_class[c],
            stats_.slabs_in_use_by_class[c]);
  }
}

}  // namespace hakmem
