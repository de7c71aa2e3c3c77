// Typed, non-variadic wrappers over libcurl's variadic functions, so Swift can call them.
// Each wrapper passes exactly one argument of the type the option documents.
#ifndef CAMPAIGN_GATEWAY_CCURL_SHIM_H
#define CAMPAIGN_GATEWAY_CCURL_SHIM_H

#include <curl/curl.h>

/// Callback type for CURLOPT_WRITEFUNCTION and CURLOPT_HEADERFUNCTION.
typedef size_t (*cg_curl_data_callback)(char *ptr, size_t size, size_t nmemb, void *userdata);

/// Callback type for CURLOPT_XFERINFOFUNCTION.
typedef int (*cg_curl_progress_callback)(void *clientp, curl_off_t dltotal, curl_off_t dlnow,
                                         curl_off_t ultotal, curl_off_t ulnow);

/// curl_global_init(CURL_GLOBAL_ALL); the macro is not importable into Swift.
static inline CURLcode cg_global_init(void) {
    return curl_global_init(CURL_GLOBAL_ALL);
}

/// CURLPIPE_MULTIPLEX as a plain long.
static inline long cg_pipe_multiplex(void) {
    return CURLPIPE_MULTIPLEX;
}

static inline CURLcode cg_easy_setopt_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode cg_easy_setopt_off_t(CURL *handle, CURLoption option, curl_off_t value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode cg_easy_setopt_string(CURL *handle, CURLoption option, const char *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode cg_easy_setopt_pointer(CURL *handle, CURLoption option, void *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode cg_easy_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode cg_easy_setopt_data_callback(CURL *handle, CURLoption option, cg_curl_data_callback value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode cg_easy_setopt_progress_callback(CURL *handle, cg_curl_progress_callback value) {
    return curl_easy_setopt(handle, CURLOPT_XFERINFOFUNCTION, value);
}

static inline CURLcode cg_easy_getinfo_long(CURL *handle, CURLINFO info, long *value) {
    return curl_easy_getinfo(handle, info, value);
}

static inline CURLcode cg_easy_getinfo_pointer(CURL *handle, CURLINFO info, void **value) {
    return curl_easy_getinfo(handle, info, value);
}

static inline CURLMcode cg_multi_setopt_long(CURLM *multi, CURLMoption option, long value) {
    return curl_multi_setopt(multi, option, value);
}

/// The easy handle and result of a finished transfer, or NULL handle when none is left.
typedef struct {
    CURL *easy;
    CURLcode result;
} cg_multi_done;

/// Reads the next CURLMSG_DONE message from the multi handle; `easy` is NULL when none.
static inline cg_multi_done cg_multi_next_done(CURLM *multi) {
    int remaining = 0;
    CURLMsg *message;
    cg_multi_done done = { NULL, CURLE_OK };
    while ((message = curl_multi_info_read(multi, &remaining)) != NULL) {
        if (message->msg == CURLMSG_DONE) {
            done.easy = message->easy_handle;
            done.result = message->data.result;
            return done;
        }
    }
    return done;
}

#endif
