"""PromptSRC's prompted CLIP and objective in PyTorch, written from the reference trainer's
equations (muzairkhattak/PromptSRC trainers/promptsrc.py, clip/model.py; see
shared/reference/promptsrc-clip.md sections 3-4), on an open_clip CLIP in OpenAI layout.
Shared by promptsrc_fixture.py (the committed fixture) and bench_torch.py (speed)."""
import torch
import torch.nn.functional as F


class Prompted:
    """Deep prompts on a frozen open_clip `model`: `ctx` [n, text width] and one text prompt per
    block 1..J-1 (`text_deep`), `vpt` [n, vision width] and one visual prompt per block 1..J-1
    (`vision_deep`). `tokens` [C, ctx_len] are the class prompts "{prefix} {class}." whose
    positions 1..n the context replaces."""

    def __init__(self, model, tokens, ctx, text_deep, vpt, vision_deep):
        self.model, self.tokens = model, tokens
        self.ctx, self.text_deep, self.vpt, self.vision_deep = ctx, text_deep, vpt, vision_deep
        with torch.no_grad():
            self.emb = model.token_embedding(tokens)

    def params(self):
        return [self.ctx, *self.text_deep, self.vpt, *self.vision_deep]

    def text(self):
        m, n, c = self.model, self.ctx.shape[0], self.tokens.shape[0]
        x = torch.cat([self.emb[:, :1], self.ctx.unsqueeze(0).expand(c, -1, -1), self.emb[:, 1 + n :]], dim=1)
        x = x + m.positional_embedding[: x.shape[1]]
        for i, blk in enumerate(m.transformer.resblocks):
            if 1 <= i <= len(self.text_deep):  # replace positions 1..n before blocks 1..J-1
                p = self.text_deep[i - 1].unsqueeze(0).expand(c, -1, -1)
                x = torch.cat([x[:, :1], p, x[:, 1 + n :]], dim=1)
            x = blk(x, attn_mask=m.attn_mask[: x.shape[1], : x.shape[1]])
        x = m.ln_final(x)
        return x[torch.arange(c), self.tokens.argmax(-1)] @ m.text_projection

    def image(self, img):
        v, n, b = self.model.visual, self.vpt.shape[0], img.shape[0]
        x = v.conv1(img).reshape(b, v.conv1.out_channels, -1).permute(0, 2, 1)
        x = torch.cat([v.class_embedding.expand(b, 1, -1), x], dim=1) + v.positional_embedding
        x = torch.cat([x, self.vpt.unsqueeze(0).expand(b, -1, -1)], dim=1)  # appended before ln_pre
        x = v.ln_pre(x)
        for i, blk in enumerate(v.transformer.resblocks):
            if 1 <= i <= len(self.vision_deep):  # replace the last n tokens
                x = torch.cat([x[:, :-n], self.vision_deep[i - 1].unsqueeze(0).expand(b, -1, -1)], dim=1)
            x = blk(x)
        return v.ln_post(x[:, 0]) @ v.proj


def losses(prompted, images, labels, frozen_text, text_weight=25.0, image_weight=10.0):
    """The four terms and their sum; `frozen_text` are unnormalised template-mean features."""
    model = prompted.model
    scale = model.logit_scale.exp()
    t = F.normalize(prompted.text(), dim=-1)
    v = F.normalize(prompted.image(images), dim=-1)
    logits = scale * v @ t.t()
    with torch.no_grad():
        tt = F.normalize(frozen_text, dim=-1)
        vv = F.normalize(model.encode_image(images), dim=-1)
        zs_logits = scale * vv @ tt.t()
    ce = F.cross_entropy(logits, labels)
    kl = F.kl_div(F.log_softmax(logits, 1), F.log_softmax(zs_logits, 1), reduction="sum", log_target=True) / logits.numel()
    text_l1 = text_weight * F.l1_loss(t, tt)
    image_l1 = image_weight * F.l1_loss(v, vv)
    return dict(t=t, v=v, logits=logits, zs_logits=zs_logits, ce=ce, kl=kl, text_l1=text_l1, image_l1=image_l1,
                total=ce + kl + text_l1 + image_l1)
