from manim_qwen_mlx.cli import main

main()
