#!/bin/sh
# The portable core makes no system call, reads no clock and starts no thread
# (docs/design.md, practice 1): this check makes that a test. It lists the
# symbols the core library needs from outside itself (nm -u, minus what the
# archive defines) and fails on
#   - any symbol on the deny list (system-call wrappers, clocks, randomness
#     from the OS, threads, files and streams), and
#   - any symbol outside the allowlist of families known to be pure:
#     OpenSSL's EVP/HKDF/parameter calls, libsodium's computations, the C
#     library's memory and string functions and address conversions, the
#     C++ runtime (operator new/delete, __cxa_*, unwinding) and libstdc++'s
#     internals, and abort (a Result read on its wrong side, core/result.hpp).
# A new pure dependency goes on the allowlist here, with a word on why.
#
# usage: check_core_purity.sh NM LIBRARY
set -eu
nm_tool=$1
library=$2

# Raw names; a name both used and defined inside the archive is internal.
"$nm_tool" -u "$library" | awk 'NF == 2 && $1 == "U" { print $2 }' | sort -u >"${TMPDIR:-/tmp}/purity.$$.u"
"$nm_tool" --defined-only "$library" | awk 'NF == 3 { print $3 }' | sort -u >"${TMPDIR:-/tmp}/purity.$$.d"
external=$(comm -23 "${TMPDIR:-/tmp}/purity.$$.u" "${TMPDIR:-/tmp}/purity.$$.d")
rm -f "${TMPDIR:-/tmp}/purity.$$.u" "${TMPDIR:-/tmp}/purity.$$.d"

# C names (raw) and C++ names (demangled) that reach the OS or a clock.
deny_c='^(read|readv|pread|pread64|write|writev|pwrite|pwrite64|open|open64|openat|openat64|creat|close|'\
'socket|socketpair|connect|bind|listen|accept|accept4|send|sendto|sendmsg|sendmmsg|recv|recvfrom|recvmsg|'\
'recvmmsg|ioctl|fcntl|poll|ppoll|select|pselect|epoll_.*|mmap|mmap64|munmap|fork|vfork|exec.*|system|'\
'sleep|usleep|nanosleep|clock_nanosleep|clock_gettime|clock_getres|clock|time|gettimeofday|ftime|'\
'getrandom|getentropy|rand|random|srand|arc4random.*|syscall|getpid|gettid|kill|raise|signal|sigaction|'\
'pthread_.*|sched_yield|fopen|fopen64|fdopen|fclose|fread|fwrite|fflush|fprintf|printf|puts|fputs|'\
'perror|getenv|secure_getenv|setenv|getaddrinfo|gethostbyname|stat|stat64|fstat|fstat64|lstat|unlink|'\
'rename|mkdir|rmdir|fsync|fdatasync|ftruncate|RAND_.*|sodium_init|randombytes.*)$'
deny_cxx='(std::chrono::.*::now|std::random_device|std::thread|std::this_thread|std::condition_variable|'\
'std::mutex|std::shared_mutex|std::timed_mutex|std::basic_[io]?fstream|std::basic_filebuf|std::filesystem|'\
'std::ios_base::Init|std::cout|std::cerr|std::clog|std::cin|std::__1::|cordon::(os|daemon|admin|cli)::)'

# OpenSSL's big numbers, curves, ASN.1/DER codecs, X.509 objects and memory
# BIOs (the IPsec key exchange and certificates, core/ipsec): computations
# on memory the caller passed. X509_verify_cert is given the time
# (X509_VERIFY_PARAM_set_time, core/ipsec/x509.cpp), so it reads no clock;
# only memory BIOs are used (BIO_new_mem_buf), never files. pow (libm)
# computes the IKE retransmission back-off.
allow_c='^(EVP_.*|OSSL_PARAM_.*|HKDF.*|CRYPTO_memcmp|OPENSSL_cleanse|ERR_.*|crypto_aead_.*|crypto_pwhash.*|'\
'BN_.*|EC_GROUP_.*|EC_POINT_.*|ECDSA_SIG_.*|ASN1_.*|OBJ_.*|OPENSSL_sk_.*|CRYPTO_free|RSA_PSS_PARAMS_.*|'\
'X509_.*|X509V3_.*|d2i_.*|i2d_.*|PEM_read_bio_.*|BIO_new_mem_buf|BIO_free_all|BIO_free|pow|'\
'crypto_kdf_.*|crypto_generichash.*|crypto_shorthash.*|sodium_memcmp|sodium_memzero|sodium_is_zero|'\
'memcpy|memmove|memset|memcmp|memchr|bcmp|strlen|strcmp|strncmp|strchr|strnlen|inet_ntop|inet_pton|'\
'__cxa_.*|_Unwind_.*|__gxx_personality_v0|__dso_handle|__libc_single_threaded|__stack_chk_fail|'\
'__assert_fail|abort|__tls_get_addr)$'
# libstdc++ internals and the C++ runtime, demangled.
# fmt (Debian's libfmt) builds the core's log and error texts: pure formatting.
allow_cxx='^(std::|__gnu_cxx::|operator new|operator delete|vtable for __cxxabiv1::|typeinfo for |vtable for std::|fmt::)'

status=0
for sym in $external; do
  demangled=$(printf '%s\n' "$sym" | c++filt)
  if printf '%s\n' "$sym" | grep -Eq "$deny_c" || printf '%s\n' "$demangled" | grep -Eq "$deny_cxx"; then
    echo "core purity: $library uses $demangled, which reaches the OS or a clock (deny list)"
    status=1
  elif ! printf '%s\n' "$sym" | grep -Eq "$allow_c" && ! printf '%s\n' "$demangled" | grep -Eq "$allow_cxx"; then
    echo "core purity: $library uses $demangled, which is on no allowlist of pure families;" \
         "if it is pure, add its family to tests/purity/check_core_purity.sh"
    status=1
  fi
done
[ $status -eq 0 ] && echo "core purity: $(printf '%s\n' "$external" | wc -l) external symbols, all pure"
exit $status
