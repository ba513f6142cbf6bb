// Driver for tools/gen_llama2c_goldens.sh (bridge's own code; no llama2.c code is committed).
//
// The script compiles this file together with run.c from a llama2.c checkout
// (github.com/karpathy/llama2.c, MIT), which it puts on the include path:
//
//   gcc -O2 -I LLAMA2C_DIR -o driver tools/llama2c_driver.c -lm
//
// run.c leaves out its own main() (the CLI) when TESTING is defined, so every function below
// (build_transformer, build_tokenizer, build_sampler, encode, decode, forward, sample) is
// llama2.c's own, unchanged.
//
//   driver greedy MODEL TOKENIZER STEPS
//       generate()'s loop from the prompt "" (BOS only) at temperature 0 (sample() is argmax),
//       printing token ids instead of text. Output: line 1 = the prompt ids, line 2 = the ids
//       sampled (space-separated). Same as `run MODEL -z TOKENIZER -t 0 -n STEPS -i ""`.
//
//   driver encode MODEL TOKENIZER TEXTS
//       TEXTS holds one text a line, hex-encoded (UTF-8 bytes; an empty line is the empty text).
//       For each text one output line of four tab-separated fields:
//       encode(bos=0,eos=0) ids, encode(bos=1,eos=0) ids, encode(bos=1,eos=1) ids
//       (space-separated), and, hex-encoded, the concatenation of the pieces decode(prev, token)
//       returns for the bos=1 ids after BOS, prev starting at BOS as in generate().
//       (The pieces are taken as decode() returns them: generate()'s safe_printf would also drop
//       lone bytes that are not printable, such as those of multi-byte UTF-8 characters.)
//       MODEL is read for its vocab_size only, as run.c's main() does.

#define TESTING
#include "run.c"

static void die(const char *msg) {
    fprintf(stderr, "llama2c_driver: %s\n", msg);
    exit(EXIT_FAILURE);
}

static int hex_value(int c) {
    if (c >= '0' && c <= '9') { return c - '0'; }
    if (c >= 'a' && c <= 'f') { return c - 'a' + 10; }
    if (c >= 'A' && c <= 'F') { return c - 'A' + 10; }
    return -1;
}

static void print_ids(const int *ids, int n) {
    for (int i = 0; i < n; i++) { printf(i == 0 ? "%d" : " %d", ids[i]); }
}

static void print_hex(const char *s) {
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) { printf("%02x", *p); }
}

static int greedy(char *model_path, char *tokenizer_path, int steps) {
    Transformer transformer;
    build_transformer(&transformer, model_path);
    if (steps <= 0 || steps > transformer.config.seq_len) { steps = transformer.config.seq_len; }
    Tokenizer tokenizer;
    build_tokenizer(&tokenizer, tokenizer_path, transformer.config.vocab_size);
    Sampler sampler;
    build_sampler(&sampler, transformer.config.vocab_size, 0.0f, 0.9f, 1); // temperature 0: argmax

    // generate() with prompt "" (run -i ""), ids printed instead of the decoded pieces
    char *prompt = "";
    int num_prompt_tokens = 0;
    int *prompt_tokens = (int *)malloc((strlen(prompt) + 3) * sizeof(int));
    encode(&tokenizer, prompt, 1, 0, prompt_tokens, &num_prompt_tokens);
    if (num_prompt_tokens < 1) { die("expected at least 1 prompt token"); }
    print_ids(prompt_tokens, num_prompt_tokens);
    printf("\n");

    int next;
    int token = prompt_tokens[0];
    int pos = 0;
    int printed = 0;
    while (pos < steps) {
        float *logits = forward(&transformer, token, pos);
        if (pos < num_prompt_tokens - 1) {
            next = prompt_tokens[pos + 1];
        } else {
            next = sample(&sampler, logits);
        }
        pos++;
        if (next == 1) { break; } // BOS ends generate()'s loop
        if (pos >= num_prompt_tokens) { // a sampled id (generate() prints its piece here)
            printf(printed == 0 ? "%d" : " %d", next);
            printed++;
        }
        token = next;
    }
    printf("\n");

    free(prompt_tokens);
    free_sampler(&sampler);
    free_tokenizer(&tokenizer);
    free_transformer(&transformer);
    return 0;
}

static int encode_texts(char *model_path, char *tokenizer_path, char *texts_path) {
    Transformer transformer;
    build_transformer(&transformer, model_path);
    Tokenizer tokenizer;
    build_tokenizer(&tokenizer, tokenizer_path, transformer.config.vocab_size);

    FILE *file = fopen(texts_path, "rb");
    if (!file) { die("cannot open the texts file"); }
    size_t cap = 0;
    char *line = NULL;
    ssize_t len;
    while ((len = getline(&line, &cap, file)) != -1) {
        if (len > 0 && line[len - 1] == '\n') { line[--len] = '\0'; }
        if (len % 2 != 0) { die("odd hex line"); }
        char *text = (char *)malloc(len / 2 + 1);
        for (ssize_t i = 0; i < len / 2; i++) {
            int hi = hex_value(line[2 * i]), lo = hex_value(line[2 * i + 1]);
            if (hi < 0 || lo < 0) { die("bad hex digit"); }
            text[i] = (char)(hi * 16 + lo);
            if (text[i] == '\0') { die("a text holds a NUL byte"); }
        }
        text[len / 2] = '\0';

        size_t cap_tokens = strlen(text) + 3; // as generate() sizes it: '\0', ?BOS, ?EOS
        int *tokens = (int *)malloc(cap_tokens * sizeof(int));
        int *tokens_bos = (int *)malloc(cap_tokens * sizeof(int));
        int n = 0, n_bos = 0;
        encode(&tokenizer, text, 0, 0, tokens, &n);
        print_ids(tokens, n);
        printf("\t");
        encode(&tokenizer, text, 1, 0, tokens_bos, &n_bos);
        print_ids(tokens_bos, n_bos);
        printf("\t");
        encode(&tokenizer, text, 1, 1, tokens, &n);
        print_ids(tokens, n);
        printf("\t");
        int prev = tokens_bos[0];
        for (int i = 1; i < n_bos; i++) {
            print_hex(decode(&tokenizer, prev, tokens_bos[i]));
            prev = tokens_bos[i];
        }
        printf("\n");
        free(tokens_bos);
        free(tokens);
        free(text);
    }
    free(line);
    fclose(file);
    free_tokenizer(&tokenizer);
    free_transformer(&transformer);
    return 0;
}

int main(int argc, char *argv[]) {
    if (argc == 5 && strcmp(argv[1], "greedy") == 0) {
        return greedy(argv[2], argv[3], atoi(argv[4]));
    }
    if (argc == 5 && strcmp(argv[1], "encode") == 0) {
        return encode_texts(argv[2], argv[3], argv[4]);
    }
    fprintf(stderr, "usage: %s greedy MODEL TOKENIZER STEPS\n"
                    "       %s encode MODEL TOKENIZER TEXTS\n", argv[0], argv[0]);
    return EXIT_FAILURE;
}
