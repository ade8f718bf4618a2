/* include/wdk/ntdef.h — the WDK's basic types with Windows' widths on an
 * LP64 host (ULONG and LONG are 32 bits, WCHAR 16 bits: compile driver code
 * with -fshort-wchar, which `pkg-config --cflags mmsim-wdk` adds), strings,
 * list entries, NTSTATUS and the annotation macros, as empty as the
 * compiler needs them. Part of mmsim's WDK-compatible headers. */
#ifndef MMSIM_WDK_NTDEF_H
#define MMSIM_WDK_NTDEF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if !defined(__x86_64__) && !defined(__aarch64__) && !defined(_WIN64)
#error "mmsim's WDK headers describe 64-bit Windows: build for a 64-bit host"
#endif

#ifdef __cplusplus
#define MMSIM_EXTERN_C extern "C"
#define MMSIM_STATIC_ASSERT(e, msg) static_assert(e, msg)
#else
#define MMSIM_EXTERN_C
#define MMSIM_STATIC_ASSERT(e, msg) _Static_assert(e, msg)
#endif

/* The architecture macros Windows compilers define, which drivers test. */
#ifndef _WIN64
#define _WIN64 1
#endif
#if defined(__x86_64__)
#ifndef _AMD64_
#define _AMD64_ 1
#endif
#ifndef _M_AMD64
#define _M_AMD64 100
#endif
#ifndef _M_X64
#define _M_X64 100
#endif
#elif defined(__aarch64__)
#ifndef _ARM64_
#define _ARM64_ 1
#endif
#ifndef _M_ARM64
#define _M_ARM64 1
#endif
#endif

/* ---- calling conventions and declarations (x64 has one convention) ---- */
#define NTAPI
#define NTAPI_INLINE
#define WINAPI
#define CDECL
#define __cdecl
#define __stdcall
#define __fastcall
#define FASTCALL
#define NTSYSAPI
#define NTSYSCALLAPI
#define NTKERNELAPI
#define NTHALAPI
#define DECLSPEC_IMPORT
#define DECLSPEC_NOINLINE __attribute__((noinline))
#define DECLSPEC_NORETURN __attribute__((noreturn))
#define DECLSPEC_ALIGN(x) __attribute__((aligned(x)))
#define DECLSPEC_CACHEALIGN DECLSPEC_ALIGN(64)
#define POINTER_ALIGNMENT DECLSPEC_ALIGN(8)
/* The WDK's FORCEINLINE has no storage class (drivers write
 * `static FORCEINLINE` too); the headers' own inline routines are static. */
#define FORCEINLINE __inline__ __attribute__((always_inline))
#define NTAPI_FORCEINLINE FORCEINLINE
#define MMSIM_INLINE static __inline__ __attribute__((always_inline))
#ifndef __forceinline
#define __forceinline __inline__ __attribute__((always_inline))
#endif
#define IN
#define OUT
#define OPTIONAL
#define CONST const
#define VOLATILE volatile
#define UNALIGNED
#define RESTRICTED_POINTER
#define ANYSIZE_ARRAY 1

/* ---- SAL: documentation for Windows' analyzers, nothing for gcc/clang ---- */
#define _In_
#define _In_opt_
#define _In_z_
#define _In_opt_z_
#define _Out_
#define _Out_opt_
#define _Inout_
#define _Inout_opt_
#define _Inout_z_
#define _Outptr_
#define _Outptr_opt_
#define _Outptr_result_maybenull_
#define _Outptr_result_buffer_(...)
#define _Outptr_result_bytebuffer_(...)
#define _In_reads_(...)
#define _In_reads_opt_(...)
#define _In_reads_bytes_(...)
#define _In_reads_bytes_opt_(...)
#define _Out_writes_(...)
#define _Out_writes_opt_(...)
#define _Out_writes_bytes_(...)
#define _Out_writes_bytes_opt_(...)
#define _Out_writes_bytes_all_(...)
#define _Out_writes_bytes_to_(...)
#define _Out_writes_bytes_to_opt_(...)
#define _Out_writes_to_(...)
#define _Inout_updates_(...)
#define _Inout_updates_bytes_(...)
#define _Inout_updates_bytes_opt_(...)
#define _Field_size_(...)
#define _Field_size_opt_(...)
#define _Field_size_bytes_(...)
#define _Field_size_bytes_opt_(...)
#define _Field_size_bytes_part_(...)
#define _Field_range_(...)
#define _Field_z_
#define _Ret_maybenull_
#define _Ret_notnull_
#define _Ret_range_(...)
#define _Ret_writes_bytes_maybenull_(...)
#define _Result_nullonfailure_
#define _Must_inspect_result_
#define _Check_return_
#define _Success_(...)
#define _Post_satisfies_(...)
#define _Pre_satisfies_(...)
#define _Post_invalid_
#define _Post_writable_byte_size_(...)
#define _Post_maybenull_
#define _Pre_notnull_
#define _Pre_maybenull_
#define _Notnull_
#define _Maybenull_
#define _Frees_ptr_
#define _Frees_ptr_opt_
#define _When_(...)
#define _At_(...)
#define _Analysis_assume_(...)
#define _Analysis_mode_(...)
#define _Use_decl_annotations_
#define _Function_class_(...)
#define _Dispatch_type_(...)
#define _IRQL_requires_(...)
#define _IRQL_requires_max_(...)
#define _IRQL_requires_min_(...)
#define _IRQL_requires_same_
#define _IRQL_raises_(...)
#define _IRQL_saves_
#define _IRQL_restores_
#define _IRQL_saves_global_(...)
#define _IRQL_restores_global_(...)
#define _IRQL_always_function_max_(...)
#define _IRQL_always_function_min_(...)
#define _IRQL_uses_cancel_
#define _Kernel_float_used_
#define _Kernel_requires_resource_held_(...)
#define _Kernel_clear_do_init_(...)
#define _Acquires_lock_(...)
#define _Releases_lock_(...)
#define _Requires_lock_held_(...)
#define _Requires_lock_not_held_(...)
#define _Acquires_exclusive_lock_(...)
#define _Releases_exclusive_lock_(...)
#define _Guarded_by_(...)
#define _Interlocked_
#define _Interlocked_operand_
#define _Printf_format_string_
#define _Null_terminated_
#define _NullNull_terminated_
#define _Reserved_
#define _Strict_type_match_
#define _Literal_
#define _Points_to_data_
#define _Struct_size_bytes_(...)
#define _Writable_bytes_(...)
#define _Readable_bytes_(...)
#define _Post_readable_byte_size_(...)
#define _Deref_out_range_(...)
#define _In_range_(...)
#define _Out_range_(...)
#define _Pre_
#define _Post_
#define _Deref_pre_readonly_
#define __drv_aliasesMem
#define __drv_allocatesMem(...)
#define __drv_freesMem(...)
#define __drv_when(...)
#define __drv_dispatchType(...)
#define __drv_maxIRQL(...)
#define __drv_requiresIRQL(...)
#define __drv_setsIRQL(...)
#define __drv_savesIRQL
#define __drv_restoresIRQL
#define __drv_valueIs(...)
#define __drv_strictTypeMatch(...)
#define __drv_reportError(...)
#define __drv_mustHold(...)
#define __drv_functionClass(...)
#define __in
#define __out
#define __inout
#define __in_opt
#define __out_opt
#define __inout_opt
#define __in_bcount(x)
#define __out_bcount(x)
#define __in_ecount(x)
#define __out_ecount(x)

/* ---- integers with Windows' widths ---- */
typedef void VOID, *PVOID, *LPVOID;
typedef const void *PCVOID, *LPCVOID;
typedef char CHAR, *PCHAR, *PSTR, *LPSTR, CCHAR;
typedef const char *PCSTR, *LPCSTR, *PCSZ;
typedef unsigned char UCHAR, *PUCHAR, BYTE, *PBYTE, BOOLEAN, *PBOOLEAN;
typedef int16_t SHORT, *PSHORT, CSHORT;
typedef uint16_t USHORT, *PUSHORT, WORD, *PWORD;
typedef int32_t LONG, *PLONG, INT, *PINT, LONG32, *PLONG32, INT32;
typedef uint32_t ULONG, *PULONG, UINT, *PUINT, DWORD, *PDWORD, ULONG32, *PULONG32, UINT32, CLONG, LOGICAL, *PLOGICAL;
typedef int64_t LONGLONG, *PLONGLONG, LONG64, *PLONG64, INT64, *PINT64;
typedef uint64_t ULONGLONG, *PULONGLONG, ULONG64, *PULONG64, UINT64, *PUINT64, DWORD64, *PDWORD64, DWORDLONG;
typedef intptr_t LONG_PTR, *PLONG_PTR, INT_PTR, SSIZE_T, *PSSIZE_T;
typedef uintptr_t ULONG_PTR, *PULONG_PTR, UINT_PTR, SIZE_T, *PSIZE_T, DWORD_PTR, KAFFINITY;
typedef int BOOL;
typedef UCHAR KIRQL, *PKIRQL;
typedef CCHAR KPROCESSOR_MODE;
typedef LONG NTSTATUS, *PNTSTATUS;
typedef ULONG ACCESS_MASK, *PACCESS_MASK;
typedef ULONG DEVICE_TYPE;
typedef PVOID HANDLE, *PHANDLE;
typedef ULONG_PTR KSPIN_LOCK, *PKSPIN_LOCK;
typedef LONG KPRIORITY;
typedef ULONG LCID;

#if defined(MMSIM_WDK_RUNTIME)
typedef uint16_t WCHAR; /* the runtime itself is built without -fshort-wchar */
#else
typedef wchar_t WCHAR;
MMSIM_STATIC_ASSERT(sizeof(wchar_t) == 2, "driver code needs a 16-bit wchar_t: compile with -fshort-wchar");
#endif
typedef WCHAR *PWCHAR, *PWCH, *PWSTR, *LPWSTR;
typedef const WCHAR *PCWCH, *PCWSTR, *LPCWSTR;

#define TRUE 1
#define FALSE 0
#ifndef NULL
#define NULL ((void *)0)
#endif
#define MAXUCHAR 0xff
#define MAXUSHORT 0xffff
#define MAXULONG 0xffffffffu
#define MAXLONG 0x7fffffff
#define MINLONG 0x80000000
#define MAXLONGLONG INT64_MAX
#define MAXULONG_PTR UINTPTR_MAX

typedef union _LARGE_INTEGER {
    struct {
        ULONG LowPart;
        LONG HighPart;
    };
    struct {
        ULONG LowPart;
        LONG HighPart;
    } u;
    LONGLONG QuadPart;
} LARGE_INTEGER, *PLARGE_INTEGER;

typedef union _ULARGE_INTEGER {
    struct {
        ULONG LowPart;
        ULONG HighPart;
    };
    struct {
        ULONG LowPart;
        ULONG HighPart;
    } u;
    ULONGLONG QuadPart;
} ULARGE_INTEGER, *PULARGE_INTEGER;

typedef LARGE_INTEGER PHYSICAL_ADDRESS, *PPHYSICAL_ADDRESS;

/* ---- counted strings and lists ---- */
typedef struct _UNICODE_STRING {
    USHORT Length;        /* bytes, without a terminator */
    USHORT MaximumLength; /* bytes */
    PWCH Buffer;
} UNICODE_STRING, *PUNICODE_STRING;
typedef const UNICODE_STRING *PCUNICODE_STRING;

typedef struct _STRING {
    USHORT Length;
    USHORT MaximumLength;
    PCHAR Buffer;
} STRING, *PSTRING, ANSI_STRING, *PANSI_STRING, OEM_STRING, *POEM_STRING;
typedef const STRING *PCSTRING, *PCANSI_STRING;

#ifdef __cplusplus
/* A literal's characters are const in C++; the string's Buffer is not.
 * C++ linkage even inside a driver's extern "C" block (overloads). */
extern "C++" {
inline PWCH mmsim_string_buffer(const WCHAR *s) { return const_cast<PWCH>(s); }
inline PCHAR mmsim_string_buffer(const char *s) { return const_cast<PCHAR>(s); }
}
#define RTL_CONSTANT_STRING(s) {sizeof(s) - sizeof((s)[0]), sizeof(s), mmsim_string_buffer(s)}
#else
#define RTL_CONSTANT_STRING(s) {sizeof(s) - sizeof((s)[0]), sizeof(s), (s)}
#endif
#define DECLARE_CONST_UNICODE_STRING(name, s) const UNICODE_STRING name = RTL_CONSTANT_STRING(s)
#define DECLARE_UNICODE_STRING_SIZE(name, size) \
    WCHAR name##_buffer[size];                  \
    UNICODE_STRING name = {0, (USHORT)((size) * sizeof(WCHAR)), name##_buffer}

typedef struct _LIST_ENTRY {
    struct _LIST_ENTRY *Flink;
    struct _LIST_ENTRY *Blink;
} LIST_ENTRY, *PLIST_ENTRY, *PRLIST_ENTRY;

typedef struct _SINGLE_LIST_ENTRY {
    struct _SINGLE_LIST_ENTRY *Next;
} SINGLE_LIST_ENTRY, *PSINGLE_LIST_ENTRY;

/* ---- NTSTATUS and friends ---- */
#define NT_SUCCESS(Status) (((NTSTATUS)(Status)) >= 0)
#define NT_INFORMATION(Status) ((((ULONG)(Status)) >> 30) == 1)
#define NT_WARNING(Status) ((((ULONG)(Status)) >> 30) == 2)
#define NT_ERROR(Status) ((((ULONG)(Status)) >> 30) == 3)

#define UNREFERENCED_PARAMETER(P) ((void)(P))
#define DBG_UNREFERENCED_PARAMETER(P) ((void)(P))
#define DBG_UNREFERENCED_LOCAL_VARIABLE(V) ((void)(V))
#define FIELD_OFFSET(type, field) ((LONG)offsetof(type, field))
#define RTL_FIELD_SIZE(type, field) (sizeof(((type *)0)->field))
#define RTL_SIZEOF_THROUGH_FIELD(type, field) (FIELD_OFFSET(type, field) + RTL_FIELD_SIZE(type, field))
#define RTL_NUMBER_OF(a) (sizeof(a) / sizeof((a)[0]))
#define ARRAYSIZE(a) RTL_NUMBER_OF(a)
#define CONTAINING_RECORD(address, type, field) ((type *)((PCHAR)(address) - (ULONG_PTR)offsetof(type, field)))
#define ARGUMENT_PRESENT(p) ((CHAR *)((ULONG_PTR)(p)) != (CHAR *)NULL)
#define C_ASSERT(e) MMSIM_STATIC_ASSERT(e, #e)
#define ALIGN_DOWN_BY(length, alignment) ((ULONG_PTR)(length) & ~((ULONG_PTR)(alignment) - 1))
#define ALIGN_UP_BY(length, alignment) (ALIGN_DOWN_BY(((ULONG_PTR)(length) + (alignment) - 1), alignment))
#define ALIGN_DOWN_POINTER_BY(p, alignment) ((PVOID)ALIGN_DOWN_BY(p, alignment))
#define ALIGN_UP_POINTER_BY(p, alignment) ((PVOID)ALIGN_UP_BY(p, alignment))
#ifndef NOMINMAX
#ifndef min
#define min(a, b) (((a) < (b)) ? (a) : (b))
#endif
#ifndef max
#define max(a, b) (((a) > (b)) ? (a) : (b))
#endif
#endif

#endif
